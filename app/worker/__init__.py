"""Workers: claim inbox events with a lease, run the pipeline, dispatch the outbox."""
