"""Running canishare as software: the set-up check (`canishare doctor`), the clock's heartbeat
as operators read it, and the Prometheus metrics. Above the core and storage; channels plug their
own checks in."""
