"""CRM writes decided by Relais, stored in the decision's transaction, then dispatched."""
