from django.apps import AppConfig
from django.db.backends.signals import connection_created


class LeadsConfig(AppConfig):
    name = "leads"
    verbose_name = "Leads and campaigns"

    def ready(self) -> None:
        from django.db.models import Field, ForeignObject

        from leads.bulk_sql import AnyOf
        from leads.search import register_sqlite_functions

        Field.register_lookup(AnyOf)
        ForeignObject.register_lookup(AnyOf)  # related fields take only lookups registered on it

        connection_created.connect(register_sqlite_functions, dispatch_uid="leads.search.sqlite")
