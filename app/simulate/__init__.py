"""The dry run: a lead through the stages that exist, without writing anything."""
