"""A real SMTP server for the tests (aiosmtpd), recording every message it accepts.

Usage: smtp_sink.py PORT DIR [--reject RCPT] [--tempfail] [--auth USER:PASSWORD]
                    [--tls CERT KEY [--require-tls | --implicit]]
Each accepted message becomes DIR/<n>.json: {"mail_from", "rcpt_tos", "tls" (the TLS
version the message came over, or null), "data" (base64 of the exact bytes received after
DATA)}. --reject answers 550 to RCPT TO of that address; --tempfail answers 451 to every
RCPT TO; --auth requires AUTH PLAIN/LOGIN with those credentials (over TLS when --tls is
given); --tls offers STARTTLS with that certificate and key (PEM), --require-tls refuses
MAIL before STARTTLS, --implicit speaks TLS from the first byte instead (SMTPS).
Each AUTH attempt adds its mechanism as a line to DIR/auth-attempts.
"""
import argparse
import asyncio
import base64
import json
import os
import signal
import ssl

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Recorder:
    def __init__(self, directory, reject, tempfail):
        self.directory = directory
        self.reject = reject
        self.tempfail = tempfail
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.tempfail:
            return "451 4.3.0 try again later"
        if self.reject and address.lower() == self.reject.lower():
            # Quotes the address, as Postfix does: the gateway must not log it.
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        tls = server.transport.get_extra_info("ssl_object")
        record = {
            "mail_from": envelope.mail_from,
            "tls": tls.version() if tls is not None else None,
            "rcpt_tos": envelope.rcpt_tos,
            "data": base64.b64encode(envelope.original_content).decode(),
        }
        path = os.path.join(self.directory, f"{self.count}.json")
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(path + ".tmp", path)
        return "250 2.0.0 queued"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("directory")
    parser.add_argument("--reject")
    parser.add_argument("--tempfail", action="store_true")
    parser.add_argument("--auth")
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--require-tls", action="store_true")
    parser.add_argument("--implicit", action="store_true")
    args = parser.parse_args()

    kwargs = {}
    if args.tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*args.tls)
        if args.implicit:
            kwargs["ssl_context"] = context
        else:
            kwargs["tls_context"] = context
            kwargs["require_starttls"] = args.require_tls
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            # Every attempt is counted, right or wrong: the tests check that credentials
            # never reach a server over plain text.
            with open(os.path.join(args.directory, "auth-attempts"), "a") as f:
                f.write(mechanism + "\n")
            ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and auth_data.password.decode() == password
            return AuthResult(success=ok)

        kwargs.update(authenticator=authenticator, auth_require_tls=bool(args.tls) and not args.implicit, auth_required=True)
    controller = Controller(Recorder(args.directory, args.reject, args.tempfail), hostname="127.0.0.1", port=args.port, **kwargs)
    controller.start()
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.run_until_complete(stop.wait())
    controller.stop()


if __name__ == "__main__":
    main()
