"""The demo relying party: a KOSMO Web top page that signs members in through the identity provider.

It is a separate application that talks to the identity provider only over OpenID Connect;
it imports nothing from `idp`.
"""
from examples.portal.app import create_portal

__all__ = ["create_portal"]
