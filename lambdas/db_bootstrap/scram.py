"""The SCRAM-SHA-256 verifier of a password: the role gets it, never the plain text."""
import base64
import hashlib
import hmac
import secrets

SCRAM_ITERATIONS = 4096  # PostgreSQL's default scram_iterations


def scram_sha256_verifier(password, salt=None, iterations=SCRAM_ITERATIONS):
    """The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 7677 / 5802).

    PostgreSQL stores a verifier given in this form as is. (It SASLpreps passwords
    first; ours are ASCII letters and digits, which SASLprep leaves unchanged.)
    """
    salt = salt if salt is not None else secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(data):
        return base64.b64encode(data).decode("ascii")

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"
