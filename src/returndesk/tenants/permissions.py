"""Named permissions and the roles that grant them (ARCHITECTURE.md, "Permissions").

Code checks permissions, never roles.
"""

from __future__ import annotations

RETURNS_VIEW = "returns.view"
RETURNS_CREATE = "returns.create"
RETURNS_REVIEW = "returns.review"
RETURNS_CANCEL = "returns.cancel"
RETURNS_REOPEN = "returns.reopen"
RETURNS_MARK_LOST = "returns.mark_lost"
RETURNS_OVERRIDE = "returns.override"
CATALOG_VIEW = "catalog.view"
CATALOG_MANAGE = "catalog.manage"
RECEIVING = "warehouse.receive"
INSPECTION = "warehouse.inspect"
DISPOSITION = "warehouse.dispose"
TAGS_PRINT = "warehouse.print_tags"
UNIDENTIFIED = "warehouse.unidentified"
INVENTORY_VIEW = "warehouse.inventory"  # read the inventory ledger: balances, tagged units
REFUNDS_VIEW = "refunds.view"
REFUNDS_ISSUE = "refunds.issue"
REFUNDS_MARK_PAID = "refunds.mark_paid"
REFUNDS_RETRY = "refunds.retry"
ADJUSTMENTS_RESOLVE = "refunds.resolve_adjustments"
REFUNDS_EXPORT = "refunds.export"
STORE_CREDIT_VIEW = "store_credit.view"  # store credit and gift card balances and ledgers
STORE_CREDIT_REDEEM = "store_credit.redeem"  # the merchant's checkout spends store credit
STORE_CREDIT_ADJUST = "store_credit.adjust"  # staff corrections and reversals, with a reason
POLICY_MANAGE = "policy.manage"
USERS_MANAGE = "users.manage"
APIKEYS_MANAGE = "apikeys.manage"
WEBHOOKS_MANAGE = "webhooks.manage"
INTEGRATIONS_MANAGE = "integrations.manage"
ANALYTICS_VIEW = "analytics.view"
CUSTOMERS_PRIVACY = "customers.privacy"
PROVIDER_MERCHANTS = "provider.merchants"
PROVIDER_FACILITIES = "provider.facilities"
PROVIDER_BILLING = "provider.billing"
PROVIDER_SLAS = "provider.slas"
# Carriers' inbound webhooks arrive before anyone knows the merchant: a provider-wide concern.
PROVIDER_WEBHOOKS = "provider.webhooks"
MERCHANT_SETTINGS = "merchant.settings"
AUDIT_VIEW = "audit.view"
# The facility dashboards and SLA breaches across merchants (returndesk.operations).
OPERATIONS_VIEW = "operations.view"

AGENT = frozenset(
    {
        RETURNS_VIEW,
        RETURNS_CREATE,
        RETURNS_REVIEW,
        RETURNS_CANCEL,
        RETURNS_REOPEN,
        RETURNS_MARK_LOST,
        RETURNS_OVERRIDE,
        CATALOG_VIEW,
    }
)
WAREHOUSE = frozenset(
    {RECEIVING, INSPECTION, DISPOSITION, TAGS_PRINT, UNIDENTIFIED, INVENTORY_VIEW}
)
FINANCE = frozenset(
    {
        REFUNDS_VIEW,
        REFUNDS_ISSUE,
        REFUNDS_MARK_PAID,
        REFUNDS_RETRY,
        ADJUSTMENTS_RESOLVE,
        REFUNDS_EXPORT,
        RETURNS_VIEW,
        STORE_CREDIT_VIEW,
        STORE_CREDIT_ADJUST,
    }
)
MERCHANT_ADMIN = (
    AGENT
    | WAREHOUSE
    | FINANCE
    | frozenset(
        {
            CATALOG_MANAGE,
            POLICY_MANAGE,
            USERS_MANAGE,
            APIKEYS_MANAGE,
            WEBHOOKS_MANAGE,
            INTEGRATIONS_MANAGE,
            ANALYTICS_VIEW,
            CUSTOMERS_PRIVACY,
            MERCHANT_SETTINGS,
            AUDIT_VIEW,
            STORE_CREDIT_REDEEM,
        }
    )
)
MERCHANT_VIEWER = frozenset({RETURNS_VIEW, ANALYTICS_VIEW, CATALOG_VIEW})
PROVIDER_ADMIN = MERCHANT_ADMIN | frozenset(
    {
        PROVIDER_MERCHANTS,
        PROVIDER_FACILITIES,
        PROVIDER_BILLING,
        PROVIDER_SLAS,
        PROVIDER_WEBHOOKS,
        OPERATIONS_VIEW,
    }
)
# A warehouse lead runs the floor: the warehouse work, the returns it handles, and the facility
# dashboards and SLA breaches. Provider-wide only, like provider_admin.
WAREHOUSE_LEAD = WAREHOUSE | frozenset({RETURNS_VIEW, OPERATIONS_VIEW})

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "agent": AGENT,
    "warehouse": WAREHOUSE,
    "finance": FINANCE,
    "merchant_admin": MERCHANT_ADMIN,
    "merchant_viewer": MERCHANT_VIEWER,
    "provider_admin": PROVIDER_ADMIN,
    "warehouse_lead": WAREHOUSE_LEAD,
}
ROLE_CHOICES = [
    ("agent", "Customer-service agent"),
    ("warehouse", "Warehouse worker"),
    ("finance", "Finance"),
    ("merchant_admin", "Merchant admin"),
    ("merchant_viewer", "Merchant viewer"),
    ("provider_admin", "Provider admin"),
    ("warehouse_lead", "Warehouse lead"),
]
# Roles granted provider-wide only: they see every merchant's work.
PROVIDER_ROLES = frozenset({"provider_admin", "warehouse_lead"})
# Roles a merchant admin may grant within a merchant; provider-wide roles are not among them.
MERCHANT_ROLE_CHOICES = [
    (role, label) for role, label in ROLE_CHOICES if role not in PROVIDER_ROLES
]
# A merchant API key acts as a merchant admin, except for managing users and keys.
MERCHANT_KEY = MERCHANT_ADMIN - {USERS_MANAGE, APIKEYS_MANAGE}
# A provider key works the facilities, and reads the returns it handles.
PROVIDER_KEY = WAREHOUSE | frozenset({RETURNS_VIEW})
