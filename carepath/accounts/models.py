import datetime as dt
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models.functions import Lower

from carepath.core import clock
from carepath.core.languages import Language
from carepath.core.us_states import UsState
from carepath.core.validators import validate_npi, validate_time_zone


class Role(models.TextChoices):
    PATIENT = "patient", "Patient"
    CLINICIAN = "clinician", "Clinician"
    TELEFACILITATOR = "telefacilitator", "Telefacilitator"
    COORDINATOR = "coordinator", "Care coordinator"
    ADMIN = "admin", "Administrator"


STAFF_ROLES = frozenset({Role.CLINICIAN, Role.TELEFACILITATOR, Role.COORDINATOR, Role.ADMIN})


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> "User":
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> "User":
        fields.setdefault("role", Role.ADMIN)
        return self.create_user(email, password, **fields)


class User(AbstractUser):
    """Everyone who signs in. The role decides what they may do; staff need MFA."""

    username = None  # type: ignore[assignment]
    email = models.EmailField("e-mail address", unique=True, max_length=254)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.PATIENT)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    # Designated staff may open a patient's record without a care relationship, reasoned and
    # time-boxed; admins grant this, and the grant is audited.
    can_break_glass = models.BooleanField(default=False)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects = UserManager()  # type: ignore[assignment,misc]

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    @property
    def is_staff_role(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.email


class PatientProfile(models.Model):
    user = models.OneToOneField(User, on_delete=models.PROTECT, related_name="patient_profile")
    date_of_birth = models.DateField()
    phone = models.CharField(max_length=32, blank=True)
    state = models.CharField("state of residence", max_length=2, choices=UsState.choices)
    preferred_language = models.CharField(
        max_length=8, choices=Language.choices, default=Language.EN
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"patient {self.user_id}"


class Specialty(models.Model):
    """A clinical specialty or service line a clinician may serve (e.g. dermatology)."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)

    class Meta:
        verbose_name_plural = "specialties"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ClinicianProfile(models.Model):
    user = models.OneToOneField(User, on_delete=models.PROTECT, related_name="clinician_profile")
    npi = models.CharField("NPI", max_length=10, unique=True, validators=[validate_npi])
    specialties = models.ManyToManyField(Specialty, blank=True, related_name="clinicians")
    languages = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"clinician {self.user_id}"


class License(models.Model):
    clinician = models.ForeignKey(
        ClinicianProfile, on_delete=models.PROTECT, related_name="licenses"
    )
    state = models.CharField(max_length=2, choices=UsState.choices)
    number = models.CharField(max_length=40, blank=True)
    expires_on = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["clinician", "state"], name="one_license_per_state")
        ]
        ordering = ["state"]

    def __str__(self) -> str:
        return f"{self.state} until {self.expires_on}"

    def is_valid_on(self, day: dt.date) -> bool:
        return day <= self.expires_on


class StaffInvitation(models.Model):
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=20, choices=Role.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=clock.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(role="patient"), name="invitation_is_for_staff"
            )
        ]

    def is_usable(self) -> bool:
        return (
            self.accepted_at is None and self.revoked_at is None and clock.now() < self.expires_at
        )


class ApiToken(models.Model):
    """A bearer token for API clients. Only a SHA-256 of the secret is stored; the token is
    shown once. It acts with the role it was issued for, and stops if the user's role changes."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, unique=True)
    secret_hash = models.CharField(max_length=64)
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(default=clock.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
