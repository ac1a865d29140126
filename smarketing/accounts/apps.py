from django.apps import AppConfig
from django.core import checks


class AccountsConfig(AppConfig):
    name = "smarketing.accounts"
    label = "accounts"
    verbose_name = "Organisations and members"

    def ready(self) -> None:
        checks.register(check_celery_visibility_timeout, checks.Tags.compatibility)


def check_celery_visibility_timeout(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    from django.core.exceptions import ImproperlyConfigured

    from smarketing.celery import check_visibility_timeout

    try:
        check_visibility_timeout()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="smarketing.E001")]
    return []
