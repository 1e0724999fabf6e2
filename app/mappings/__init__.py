"""The admins' contract: YAML under RELAIS_MAPPINGS_DIR, loaded into typed, validated models."""
