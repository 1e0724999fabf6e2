"""The processing path for a contact: fetch, map, score, assign, record, queue the write."""
