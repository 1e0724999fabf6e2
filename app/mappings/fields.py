"""Canonical lead fields: the built-in ones, their types, and the CRM fields that feed them
when ``fields.yaml`` is absent. Admins declare more in ``fields.yaml`` (a name and a type)."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Literal


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
    # Added by enrichment (enrichment.yaml), never read from a CRM.
    EMAIL_VALID = "email_valid"  # the email's syntax holds (false when there is no email)
    EMAIL_DOMAIN = "email_domain"
    EMAIL_FREE = "email_free"  # a free-mail domain (gmail.com, orange.fr, ...)
    EMAIL_DISPOSABLE = "email_disposable"  # a throw-away domain (yopmail.com, ...)
    EMAIL_ROLE = "email_role"  # a role account (contact@, info@, ...), not a person
    PHONE_E164 = "phone_e164"  # +33612345678
    PHONE_VALID = "phone_valid"
    SIREN_VALID = "siren_valid"  # the SIREN's check digit holds
    SIRET_VALID = "siret_valid"
    COMPANY_ACTIVE = "company_active"  # the register says active (false: closed)
    NAF_SECTION = "naf_section"  # the NAF code's section letter (J: information, ...)
    HEADCOUNT_BAND = "headcount_band"  # the register's tranche_effectif_salarie code
    LEGAL_CATEGORY = "legal_category"  # the register's nature_juridique code (5710: SAS)
    ENRICHMENT_GAPS = "enrichment_gaps"  # the providers that failed for this lead


# What a field holds, which decides how its values are read and which operators apply.
FieldType = Literal["text", "number", "date", "datetime", "boolean", "list"]
FIELD_TYPES: tuple[FieldType, ...] = ("text", "number", "date", "datetime", "boolean", "list")
_TEXT: FieldType = "text"
BUILTIN_TYPES: dict[str, FieldType] = {f.value: _TEXT for f in LeadField} | {
    LeadField.COMPANY_SIZE.value: "number",
    LeadField.REVENUE.value: "number",
    LeadField.LAST_ACTIVITY.value: "datetime",
    LeadField.EMAIL_VALID.value: "boolean",
    LeadField.EMAIL_FREE.value: "boolean",
    LeadField.EMAIL_DISPOSABLE.value: "boolean",
    LeadField.EMAIL_ROLE.value: "boolean",
    LeadField.PHONE_VALID.value: "boolean",
    LeadField.SIREN_VALID.value: "boolean",
    LeadField.SIRET_VALID.value: "boolean",
    LeadField.COMPANY_ACTIVE.value: "boolean",
    LeadField.ENRICHMENT_GAPS.value: "list",
}
# The operators of scoring (and qualification) rules that make sense for each type.
_ORDER = ("gt", "gte", "lt", "lte", "between")  # between: two values, inclusive
OPERATORS: dict[FieldType, tuple[str, ...]] = {
    "text": ("eq", "ne", "in", "not_in", "contains", "matches", "exists", "missing"),
    "number": ("eq", "ne", "in", "not_in", *_ORDER, "exists", "missing"),
    "date": ("eq", "ne", *_ORDER, "exists", "missing"),
    "datetime": (*_ORDER, "exists", "missing"),
    "boolean": ("eq", "ne", "exists", "missing"),
    "list": ("contains", "in", "not_in", "matches", "exists", "missing"),
}
# A declared field's name: what rules and (later) routing use to name it.
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


HUBSPOT_CONTACT_PROPERTIES: dict[str, str] = {
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
SALESFORCE_FIELDS: dict[str, dict[str, str]] = {
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
