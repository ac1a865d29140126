"""The lead's company and persona are no longer database constraints (leads.models.Lead.company
says why). Reversing this adds them back and checks every lead: it fails if a lead names a
company or persona that is gone; set those references to NULL first.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('leads', '0030_lead_campaign_touch_times'),
        ('personas', '0002_restrict_member_references'),
    ]

    operations = [
        migrations.AlterField(
            model_name='lead',
            name='company',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='leads', to='leads.company'),
        ),
        migrations.AlterField(
            model_name='lead',
            name='persona',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='personas.persona'),
        ),
    ]
