"""Enrichment: what Relais adds to a lead beyond what the CRMs hold (enrichment.yaml)."""
