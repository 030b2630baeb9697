from wtforms import DateField, Form, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional, ValidationError

from ...services.audit import audit_actions
from ...services.staff import list_staff


class AuditFilterForm(Form):
    """The audit log's filters: a GET form (no CSRF: it changes nothing)."""

    action = SelectField("Action", default="", invalid_choice_message="Choose an action from the list.")
    actor = SelectField("Who", default="", invalid_choice_message="Choose a person from the list.")
    start = DateField("From", validators=[Optional()])
    end = DateField("To", validators=[Optional()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.action.choices = [SelectChoice("", "Any action")] + [SelectChoice(a) for a in audit_actions()]
        self.actor.choices = [SelectChoice("", "Anyone")] + [
            SelectChoice(str(u.pk), f"{u.name} <{u.email}>") for u in list_staff()]

    def validate_end(self, field):
        if field.data and self.start.data and field.data < self.start.data:
            raise ValidationError("The end date is before the start date.")
