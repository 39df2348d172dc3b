"""Facility routes get a public id, so the console can name one to remove without a raw key.

Added nullable, filled row by row (one default for every existing row would collide), then
made unique and required."""

from typing import Any

from django.db import migrations, models

import returndesk.shipping.models
from returndesk.core.ids import new_public_id


def fill_public_ids(apps: Any, schema_editor: Any) -> None:
    FacilityRoute = apps.get_model("shipping", "FacilityRoute")
    for route in FacilityRoute.objects.filter(public_id__isnull=True).only("pk"):
        FacilityRoute.objects.filter(pk=route.pk).update(public_id=new_public_id("rte"))


class Migration(migrations.Migration):
    dependencies = [("shipping", "0002_tracking")]

    operations = [
        migrations.AddField(
            model_name="facilityroute",
            name="public_id",
            field=models.CharField(max_length=40, null=True),
        ),
        migrations.RunPython(fill_public_ids, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="facilityroute",
            name="public_id",
            field=models.CharField(
                default=returndesk.shipping.models.new_route_id, max_length=40, unique=True
            ),
        ),
    ]
