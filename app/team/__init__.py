"""The sales team as the CRMs know it: rep emails resolved to CRM owner ids."""
