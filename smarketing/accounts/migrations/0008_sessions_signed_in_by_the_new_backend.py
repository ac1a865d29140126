"""Signed-in sessions name the backend that signed them in; Django loads their user only through
a backend still listed in AUTHENTICATION_BACKENDS. The backend moved from Django's ModelBackend to
smarketing.accounts.backends.ModelBackend (the same checks, the user read by a prepared
statement): the sessions that named the old one name the new one, so nobody is signed out by
the upgrade."""

from django.db import migrations
from django.utils import timezone

OLD = "django.contrib.auth.backends.ModelBackend"
NEW = "smarketing.accounts.backends.ModelBackend"


def _rename(apps, old: str, new: str) -> None:
    from django.contrib.sessions.backends.db import SessionStore

    Session = apps.get_model("sessions", "Session")
    store = SessionStore()
    changed = []
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator(chunk_size=1000):
        data = store.decode(session.session_data)  # {} for one it can't read: left as it is
        if data.get("_auth_user_backend") == old:
            data["_auth_user_backend"] = new
            session.session_data = store.encode(data)
            changed.append(session)
    Session.objects.bulk_update(changed, ["session_data"], batch_size=500)


def forwards(apps, schema_editor):
    _rename(apps, OLD, NEW)


def backwards(apps, schema_editor):
    _rename(apps, NEW, OLD)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_reroute_predicted"),
        ("sessions", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
