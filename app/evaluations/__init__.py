"""The latest evaluation of each known lead: what rescoring starts from."""
