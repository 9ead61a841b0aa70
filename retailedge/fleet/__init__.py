"""Fleet-day replay: a recorded workload run through the real dispatch loop in simulated time."""
