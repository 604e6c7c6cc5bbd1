"""Pixel-traffic simulator: a seeded world of people, devices, browsers, cookies and networks.

``simulate(out, start, days, people, seed, bad_rate=0.0, profile="default")`` (or
``idgraph simulate``) writes, under the lake root ``out`` (local path or ``s3://``); the
``dense`` profile makes few people with ~140 cookies each a month (docs/simulator.md):

``raw/pixel/dt=D/part-NNNNN.json.gz``
    JSON Lines per ``tests/unit/simulator/pixel_event.schema.json`` (docs/bad-input.md), at
    least three parts per day. ``ts`` is ISO 8601 with ``Z`` except on sites running an old
    pixel (epoch milliseconds). At-least-once delivery is part of the natural traffic: some
    events appear twice the same day, some are re-sent the next day, and some phones sync D-1
    events late into D's folder.
``truth/injected/dt=D/counts.json``
    ``counts`` per kind (natural + injected; kinds are ``BAD_RECORD_KINDS``: docs/bad-input.md's
    quarantine reasons ``malformed_json``, ``missing_<field>``, ``bad_ts``, ``bad_ip``, the
    duplicates ``duplicate_same_day``/``duplicate_prev_day``, ``no_consent``, and the
    warnings ``raw_email_login``, ``long_user_agent``, ``long_url``, ``non_utf8``), the
    ``injected`` and ``natural`` breakdowns, and ``expected_reconciliation`` (``lines_read``,
    ``visits_written``, ``duplicates_dropped``, ``no_consent_dropped``, ``quarantined``,
    ``warning_<kind>``) that the ETL's reconciliation row for D must equal. Each injected
    record has exactly one defect, so the figures do not depend on the order of checks.
``truth/cookies/`` (Parquet)
    One row per cookie ever issued: ``site_id, cookie_id, person_id, household_id,
    device_id, browser_id, device_type, os, browser_family, shared_device, first_day,
    last_day, ever_logged_in, origin`` (``new``, ``itp_expired``, ``cleared``) and
    ``replaces_cookie_id`` (the cookie of the same browser and site it replaced). A shared
    tablet's cookies belong to its main user, though other household members use them too.
``truth/people/`` (Parquet)
    ``person_id, household_id, country, city, emails, login_hashes, office_id,
    consent_refuser, has_phone, has_computer, household_tablet, cookies``.
``truth/manifest.json``
    The arguments of the run (``profile`` only when it is not ``default``).

One run is one world: simulate the whole date range in one call (a second call restarts the
world with new cookies). Days are generated one at a time; memory is bounded by one day's
lines plus the world. Events of the last day's late syncs and re-deliveries (which would land
on the day after the range) are not written.
"""

from idgraph.simulator.badrecords import KINDS as BAD_RECORD_KINDS
from idgraph.simulator.run import DayReport, SimulationSummary, simulate

__all__ = ["BAD_RECORD_KINDS", "DayReport", "SimulationSummary", "simulate"]
