"""Who gets a lead: pure selection over pool state (engine) plus its persisted state."""
