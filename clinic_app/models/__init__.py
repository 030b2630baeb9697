"""One module per aggregate. Importing this package registers every document."""
from mongoengine import Document

from .conventions import concrete_subclasses

from .tenant import Subscription, Tenant  # noqa: F401
from .settings import Settings  # noqa: F401
from .messages import OutboundMessage  # noqa: F401
from .users import AdminProfile, AuthToken, Role, User, UserSession  # noqa: F401
from .audit import AuditEvent  # noqa: F401
from .counters import Counter  # noqa: F401
from .patients import Patient  # noqa: F401
from .scheduling import Appointment  # noqa: F401
from .clinical import Visit  # noqa: F401
from .pharmacy import Dispense, Medicine, Prescription, StockBatch, StockMovement  # noqa: F401
from .api_tokens import ApiToken  # noqa: F401
from .billing import SubscriptionPayment  # noqa: F401
from .platform import Operator, OperatorAction, OperatorSession  # noqa: F401
from .reminders import Reminder  # noqa: F401
from .labs import LabOrder, LabPanel, LabResult, LabTest  # noqa: F401
from .invoicing import BillingClaim, CreditBalance, CreditNote, Invoice, Payment, PatientCredit, PriceItem  # noqa: F401,E501


def all_documents():
    """Every concrete document class, for ensure-indexes and test clean-up."""
    return concrete_subclasses(Document)
