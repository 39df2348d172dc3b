from django.contrib import admin

from returndesk.tenants.models import ApiKey, Facility, Membership, Merchant, Provider, User


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "currency", "timezone", "is_active")
    search_fields = ("slug", "name")


@admin.register(Facility)
class FacilityAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "city", "country")
    filter_horizontal = ("merchants",)


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ("email", "full_name", "is_active", "is_superuser")
    search_fields = ("email",)
    exclude = ("password",)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "merchant", "role")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "merchant", "prefix", "last_used_at", "revoked_at")
    readonly_fields = ("key_hash", "prefix", "public_id")


admin.site.register(Provider)
