from django.apps import AppConfig
from django.db.backends.signals import connection_created


class LeadsConfig(AppConfig):
    name = "leads"
    verbose_name = "Leads and campaigns"

    def ready(self) -> None:
        from leads.search import register_sqlite_functions

        connection_created.connect(register_sqlite_functions, dispatch_uid="leads.search.sqlite")
