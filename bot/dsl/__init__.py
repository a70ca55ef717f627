"""The DSL side: escalations, reminders, exports, retention and the log's tamper evidence."""
