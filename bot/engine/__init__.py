"""The platform-neutral engine: rounds, drills, schedules and the timers that drive them."""
