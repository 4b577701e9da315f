"""The stratified rehearsal (`run --sample N`): N tickets chosen to cover the hardest cases the source holds, staged
with the people, companies, collections and articles they need into a rehearsal state folder of their own, loaded,
and reported ticket by ticket with why each was picked and where it landed.

Choosing reads the source economically: the connector's `ticket_profiles` (list endpoints: status, priority, form,
brand, requester, a size hint) places every ticket in its strata; only a few candidates per stratum are read whole
(`read_selected`), and what their histories hold (thread length, attachments, inline images, tables, code, media,
notes) decides among them. The sample is kept in the rehearsal folder (sample.json) and chosen again unless resampled.
"""
