from django.apps import AppConfig
from django.db.backends.signals import connection_created


class LeadsConfig(AppConfig):
    name = "leads"
    verbose_name = "Leads and campaigns"

    def ready(self) -> None:
        from django.db.models import CharField, ForeignObject, IntegerField, TextField

        from leads.bulk_sql import AnyOf
        from leads.search import register_sqlite_functions

        # Ids (the auto fields are integer fields) and text; related fields take only lookups
        # registered on ForeignObject.
        for field in (IntegerField, CharField, TextField, ForeignObject):
            field.register_lookup(AnyOf)

        connection_created.connect(register_sqlite_functions, dispatch_uid="leads.search.sqlite")
