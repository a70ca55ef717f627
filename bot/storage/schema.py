"""Every table, once, as SQLAlchemy Core metadata: the same schema on SQLite and PostgreSQL.

Moments are stored as ISO-8601 UTC text (`bot.core.clock.iso`), lists and objects as JSON text:
that keeps both backends byte-for-byte the same (a `db copy` moves rows unchanged, the hash
chain covers the same text) and lets exports stream stored text without decoding it.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, MetaData, Table, Text

metadata = MetaData()


def _text(name: str, **kw) -> Column:
    return Column(name, Text, **kw)


schema_migrations = Table(
    "schema_migrations", metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    _text("applied_at", nullable=False),
)

conversations = Table(
    "conversations", metadata,
    _text("channel", primary_key=True), _text("user_id", primary_key=True),
    _text("conversation_id", primary_key=True),
    _text("state"), Column("version", Integer), _text("status"), _text("updated_at"),
    Index("ix_conversations_latest", "channel", "user_id", "status", "updated_at"),
)

decisions = Table(
    "decisions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    _text("created_at"), _text("channel"), _text("user_id"), _text("conversation_id"),
    _text("flow_id"), _text("flow_version"), _text("guidance_edition"), _text("jurisdiction"),
    _text("answers"), _text("outcome_id"), _text("verdict"), _text("consent_position"),
    _text("rules"), _text("gateways"), _text("dsl_alert"), _text("decision"), _text("what"),
    _text("with_whom"), _text("purpose"), _text("reasons"), _text("case_reference"),
    _text("prev_hash"), _text("row_hash"),
    # edition 2: secondary outcomes [{"outcome_id", "verdict"}]; NULL on rows logged before
    _text("secondary"),
    # one decision per check, enforced here (NULL on rows logged before this rule existed)
    _text("check_key"),
    _text("key_id"),  # the log key the row's hash was made with (NULL: plain SHA-256)
    # schema 5 (guidance edition 3): the law's date and the commencement settings used (NULL before)
    _text("law_as_at"), _text("commencements"),
    Index("ix_decisions_created_at", "created_at"),
    Index("ux_decisions_check_key", "check_key", unique=True),
    Index("ix_decisions_check", "channel", "user_id", "conversation_id"),
    # schema 5: the web console's trends read a term's verdicts and decisions from the index alone
    Index("ix_decisions_trends", "created_at", "verdict", "decision"),
)

events = Table(  # deliveries already acted on: Slack retries, replays, double submissions
    "events", metadata,
    _text("event_id", primary_key=True), _text("received_at"),
    Index("ix_events_received_at", "received_at"),
)

profiles = Table(
    "profiles", metadata,
    _text("channel", primary_key=True), _text("user_id", primary_key=True),
    _text("answers"), _text("updated_at"),
)

escalations = Table(
    "escalations", metadata,
    Column("id", Integer, primary_key=True),
    _text("created_at"), _text("channel"), _text("requester"), _text("conversation_id"),
    _text("dedupe_key", unique=True), _text("kind"), _text("urgency"), _text("flow_id"),
    _text("outcome_id"), _text("verdict"), _text("rules"), _text("gateways"), _text("answers"),
    _text("case_reference"), _text("status"), _text("card_channel"), _text("card_ts"),
    _text("claimed_by"), _text("claimed_at"), _text("resolved_by"), _text("resolved_at"),
    _text("resolution_note"), Column("reminders_sent", Integer), _text("next_reminder_at"),
    # schema 4: channel-neutral card reference, delivery state, version for repeat-safe buttons
    _text("secondary"), _text("card_state"), _text("card_ref"), Column("version", Integer),
    _text("more_info_by"), _text("more_info_at"),
    _text("row_mac"), _text("key_id"),  # keyed MAC over what a DSL is accountable for
    # schema 5 (guidance edition 3): how soon, the requester's own duties, the law's date
    _text("how_soon"), _text("personal_duties"), _text("law_as_at"),
    Index("ix_escalations_due", "status", "next_reminder_at"),
    Index("ix_escalations_conversation", "channel", "requester", "conversation_id"),
    # schema 5: the web console's queue (each state of a desk, oldest first; resolved, latest first)
    Index("ix_escalations_queue", "channel", "status", "created_at"),
    Index("ix_escalations_resolved", "channel", "status", "resolved_at"),
    Index("ix_escalations_created", "created_at"),  # a term's escalations
)

audit = Table(  # a hash chain too, like decisions: every escalation change is recorded here
    "audit", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    _text("at"), _text("actor"), _text("action"), _text("target"), _text("detail"),
    _text("prev_hash"), _text("row_hash"), _text("key_id"),
    Index("ix_audit_target", "target", "id"),
)

job_runs = Table(
    "job_runs", metadata,
    _text("job", primary_key=True), _text("period", primary_key=True), _text("ran_at"),
)

chain_anchor = Table(  # where a chain restarts after a purge; signed, so none can be made by hand
    "chain_anchor", metadata,
    Column("id", Integer, primary_key=True),
    _text("hash"), Column("purged_through", Integer), _text("at"),
    _text("table_name"), _text("key_id"), _text("signature"),
)

checkpoints = Table(  # heads of the chains at a moment, signed and published outside the database
    "checkpoints", metadata,
    Column("id", Integer, primary_key=True),
    _text("at", nullable=False), _text("reason", nullable=False), _text("text", nullable=False),
)

outbox = Table(  # everything that must reach a person, written with the change that causes it
    "outbox", metadata,
    Column("id", Integer, primary_key=True),
    _text("key", nullable=False, unique=True), _text("channel", nullable=False),
    _text("kind", nullable=False), Column("escalation_id", Integer), _text("payload"),
    _text("status", nullable=False), Column("attempts", Integer, nullable=False),
    _text("created_at", nullable=False), _text("next_attempt_at", nullable=False),
    _text("claimed_until"), _text("claimed_by"), _text("last_error"), _text("delivered_at"),
    _text("fallback_at"), _text("result"),
    Index("ix_outbox_due", "status", "next_attempt_at"),
    Index("ix_outbox_escalation", "escalation_id"),
)

delivery_attempts = Table(
    "delivery_attempts", metadata,
    Column("id", Integer, primary_key=True),
    Column("outbox_id", Integer, nullable=False), _text("at", nullable=False),
    Column("ok", Integer, nullable=False), _text("error"), _text("retry_after"),
    Index("ix_delivery_attempts_outbox", "outbox_id"),
)

contacts = Table(  # how to reach a person (or a team) in a channel: Teams needs a conversation id
    "contacts", metadata,  # and a service URL, stored at first contact
    _text("channel", primary_key=True), _text("user_id", primary_key=True),
    _text("address", nullable=False), _text("updated_at", nullable=False),
)

console_daily = Table(  # schema 5: counts per day for the web console's trends (no free text, no ids)
    "console_daily", metadata,  # kind: verdict, decision, not_shared (by verdict), concern, done
    _text("day", primary_key=True), _text("kind", primary_key=True), _text("key", primary_key=True),
    Column("count", Integer, nullable=False),
)

leases = Table(  # one scheduler leader at a time, across processes and machines
    "leases", metadata,
    _text("name", primary_key=True), _text("holder", nullable=False),
    _text("expires_at", nullable=False),
)
