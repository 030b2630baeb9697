from wtforms import BooleanField, EmailField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from ...forms import AppForm, strip_text
from ...models import User
from ...services.staff import roles_by_level


def _role_choices():
    return [SelectChoice(str(role.pk), role.name) for role in roles_by_level()]


class InviteForm(AppForm):
    email = EmailField("Email", filters=[strip_text], validators=[
        DataRequired(message="Enter their email address."), Email(message="Enter a valid email address."),
        Length(max=320, message="Use at most 320 characters.")])
    name = StringField("Name (optional)", filters=[strip_text], validators=[
        Optional(), Length(max=120, message="Use at most 120 characters.")])
    role = SelectField("Role", validators=[DataRequired(message="Choose a role.")],
                       invalid_choice_message="Choose a role from the list.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.role.choices = [SelectChoice("", "Choose a role…")] + _role_choices()

    def validate_email(self, field):
        if User.objects(email=field.data.lower()).first() is not None:
            raise ValidationError(f"{field.data.lower()} is already a member of this clinic.")


class RoleChangeForm(AppForm):
    role = SelectField("Role", validators=[DataRequired(message="Choose a role.")],
                       invalid_choice_message="Choose a role from the list.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.role.choices = _role_choices()


class TakesAppointmentsForm(AppForm):
    takes_appointments = BooleanField("Takes appointments: offer them in the booking form's list of doctors")
