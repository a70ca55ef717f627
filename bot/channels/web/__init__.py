"""The DSL web console (`canishare web`): a channel like Slack and Teams that only translates,
between a browser and the DSL desk, the storage's read queries and the audit trail."""
