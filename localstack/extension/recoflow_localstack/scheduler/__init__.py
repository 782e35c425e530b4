"""EventBridge Scheduler that fires: request checks (provider.py, schedule_checks.py), schedule
expressions (expressions.py), the firing engine (engine.py, store.py, targets.py, clock.py) and
its test controls (control.py)."""
