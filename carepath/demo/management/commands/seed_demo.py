from typing import Any

from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.core.management.base import BaseCommand

from carepath.core import clock
from carepath.demo.seed import DEMO_PASSWORD, seed_demo


def current_code(secret: str) -> str:
    code: str = format_hotp_value(hotp_value(secret, int(clock.now().timestamp()) // 30))
    return code


class Command(BaseCommand):
    help = "Create (or refresh) the demo clinic and print its logins. Safe to run repeatedly."

    def handle(self, *args: Any, **options: Any) -> None:
        logins = seed_demo()
        self.stdout.write("\nDemo clinic ready. Password for every demo login: " + DEMO_PASSWORD)
        for login in logins:
            line = f"  {login.role:<16} {login.email}"
            if login.totp_secret:
                code = current_code(login.totp_secret)
                line += f"   TOTP secret {login.totp_secret} (code now: {code})"
            self.stdout.write(line)
        self.stdout.write(
            "Staff sign in with the password, then a 6-digit code from an authenticator app "
            "given the TOTP secret (or `oathtool --totp -b SECRET`).\n"
        )
