"""Canonical lead fields and the HubSpot contact properties that feed them.

The mappings issue makes this per-CRM table configurable; until then it is HubSpot's defaults.
"""

from __future__ import annotations

from enum import StrEnum


class LeadField(StrEnum):
    EMAIL = "email"
    FIRST_NAME = "first_name"
    LAST_NAME = "last_name"
    TITLE = "title"
    PHONE = "phone"
    COMPANY = "company"
    COUNTRY = "country"
    COMPANY_SIZE = "company_size"
    INDUSTRY = "industry"
    SOURCE = "source"
    LIFECYCLE_STAGE = "lifecycle_stage"
    LEAD_STATUS = "lead_status"
    DOMAIN = "domain"
    REGION = "region"
    NAF_CODE = "naf_code"  # French sector code (APE)
    SIREN = "siren"  # French company number
    SIRET = "siret"  # French establishment number
    REVENUE = "revenue"
    LANGUAGE = "language"
    LAST_ACTIVITY = "last_activity"


HUBSPOT_CONTACT_PROPERTIES: dict[LeadField, str] = {
    LeadField.EMAIL: "email",
    LeadField.FIRST_NAME: "firstname",
    LeadField.LAST_NAME: "lastname",
    LeadField.TITLE: "jobtitle",
    LeadField.PHONE: "phone",
    LeadField.COMPANY: "company",
    LeadField.COUNTRY: "country",
    LeadField.COMPANY_SIZE: "numberofemployees",
    LeadField.INDUSTRY: "industry",
    LeadField.SOURCE: "hs_analytics_source",
    LeadField.LIFECYCLE_STAGE: "lifecyclestage",
    LeadField.LEAD_STATUS: "hs_lead_status",
}


# Salesforce fields feeding the canonical lead, per object (Contacts have no Company field).
SALESFORCE_FIELDS: dict[str, dict[LeadField, str]] = {
    "Lead": {
        LeadField.EMAIL: "Email",
        LeadField.FIRST_NAME: "FirstName",
        LeadField.LAST_NAME: "LastName",
        LeadField.TITLE: "Title",
        LeadField.PHONE: "Phone",
        LeadField.COMPANY: "Company",
        LeadField.COUNTRY: "Country",
        LeadField.COMPANY_SIZE: "NumberOfEmployees",
        LeadField.INDUSTRY: "Industry",
        LeadField.SOURCE: "LeadSource",
        LeadField.LEAD_STATUS: "Status",
    },
    "Contact": {
        LeadField.EMAIL: "Email",
        LeadField.FIRST_NAME: "FirstName",
        LeadField.LAST_NAME: "LastName",
        LeadField.TITLE: "Title",
        LeadField.PHONE: "Phone",
        LeadField.COUNTRY: "MailingCountry",
        LeadField.SOURCE: "LeadSource",
    },
}
# HubSpot properties where the native Salesforce connector stores the linked record's id.
# A converted Lead lives on as a Contact: the Contact id comes first.
HUBSPOT_SALESFORCE_ID_PROPERTIES = {"salesforcecontactid": "Contact", "salesforceleadid": "Lead"}
