"""Code every Mission Shakti service uses: events, the JetStream event store, projections, runtime."""
