"""The Messages page's filter: a GET form (no CSRF: it changes nothing)."""
from wtforms import Form, SelectField
from wtforms.fields.choices import SelectChoice

from ...models.messages import STATUSES


class MessageFilterForm(Form):
    status = SelectField("Status", default="", invalid_choice_message="Choose a status from the list.",
                         choices=[SelectChoice("", "Any status")]
                         + [SelectChoice(s, s.capitalize()) for s in STATUSES])
