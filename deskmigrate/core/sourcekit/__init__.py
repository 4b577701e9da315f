"""The source kit: what every API connector reads through. One transport on the shared retry and rate-limit policy, one
source-side HTTP error, and paginators for page numbers, cursors, `Link` headers, HAL links and Zendesk's exports."""

from deskmigrate.core.sourcekit.paging import (
    BodyLinkPaginator,
    CursorPaginator,
    HalLinkPaginator,
    ItemsOf,
    JsonGetter,
    LinkHeaderPaginator,
    NextLinkPaginator,
    NextPage,
    Page,
    PageNumberPaginator,
    PageRequest,
    Paginator,
    ZendeskTimeExport,
    each_item,
    items_under,
    paginate,
    zendesk_cursor_export,
)
from deskmigrate.core.sourcekit.transport import JsonResponse, SourceHttpError, SourceTransport, optional_list, section_unavailable

__all__ = [
    "BodyLinkPaginator",
    "CursorPaginator",
    "HalLinkPaginator",
    "ItemsOf",
    "JsonGetter",
    "JsonResponse",
    "LinkHeaderPaginator",
    "NextLinkPaginator",
    "NextPage",
    "Page",
    "PageNumberPaginator",
    "PageRequest",
    "Paginator",
    "SourceHttpError",
    "SourceTransport",
    "ZendeskTimeExport",
    "each_item",
    "items_under",
    "optional_list",
    "paginate",
    "section_unavailable",
    "zendesk_cursor_export",
]
