from wtforms import DateField, Form, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional, ValidationError

from ...services.staff import list_staff
from .actions import action_choices


class AuditFilterForm(Form):
    """The audit log's filters: a GET form (no CSRF: it changes nothing)."""

    action = SelectField("Action", default="", invalid_choice_message="Choose an action from the list.")
    actor = SelectField("Who", default="", invalid_choice_message="Choose a person from the list.")
    start = DateField("From", validators=[Optional()], invalid_value_message="Enter a date as YYYY-MM-DD.")
    end = DateField("To", validators=[Optional()], invalid_value_message="Enter a date as YYYY-MM-DD.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A known list: no distinct() over the clinic's whole audit log on every load.
        self.action.choices = [SelectChoice("", "Any action")] + [
            SelectChoice(action, label) for action, label in action_choices()]
        self.actor.choices = [SelectChoice("", "Anyone")] + [
            SelectChoice(str(u.pk), f"{u.name} <{u.email}>") for u in list_staff()]

    def validate_end(self, field):
        if field.data and self.start.data and field.data < self.start.data:
            raise ValidationError("The end date is before the start date.")
