"""One person across two CRMs: a HubSpot contact linked to a Salesforce Lead or Contact."""
