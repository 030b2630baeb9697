"""The Messages page's filter: a GET form (no CSRF: it changes nothing)."""
from wtforms import Form, SelectField
from wtforms.fields.choices import SelectChoice

from ...models.messages import STATUSES


class MessageFilterForm(Form):
    status = SelectField("Status", default="", invalid_choice_message="Choose a status from the list.",
                         choices=[SelectChoice("", "Any status")]
                         # `failed` in the outbox includes the messages still being retried
                         + [SelectChoice(s, "Failed or retrying" if s == "failed" else s.capitalize())
                            for s in STATUSES])
