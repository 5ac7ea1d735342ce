"""A POP3 client for tests/e2e_pop3.rs, on Python's poplib (standard library only).

Reads a JSON job on stdin: host, port, mode ("plain", "stls" or "ssl"), user, password and
steps, each a list such as ["stat"], ["list"], ["uidl"], ["retr", 1], ["top", 1, 0],
["dele", 1], ["rset"], ["capa"], ["quit"] or ["drop"] (close the socket without QUIT).
Prints a JSON report: the greeting, the login reply (or its error) and one result per step.
Message bytes are reassembled in CRLF form, as poplib hands them over unstuffed, in base64.
"""

import base64
import json
import poplib
import ssl
import sys


def b64(lines):
    return base64.b64encode(b"".join(line + b"\r\n" for line in lines)).decode()


def text(resp):
    return resp.decode("utf-8", "replace")


def main():
    job = json.load(sys.stdin)
    host, port, mode = job["host"], job["port"], job.get("mode", "plain")
    # A test server with a self-signed certificate: no verification.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if mode == "ssl":
        pop = poplib.POP3_SSL(host, port, context=context, timeout=30)
    else:
        pop = poplib.POP3(host, port, timeout=30)
    report = {"welcome": text(pop.getwelcome()), "steps": []}
    if mode == "stls":
        report["stls"] = text(pop.stls(context=context))
    try:
        pop.user(job["user"])
        report["login"] = text(pop.pass_(job["password"]))
    except poplib.error_proto as e:
        report["login_error"] = str(e.args[0].decode("utf-8", "replace") if isinstance(e.args[0], bytes) else e.args[0])
        print(json.dumps(report))
        return
    for step in job.get("steps", []):
        verb, args = step[0], step[1:]
        try:
            if verb == "stat":
                count, size = pop.stat()
                report["steps"].append({"count": count, "size": size})
            elif verb in ("list", "uidl"):
                resp, lines, _ = getattr(pop, verb)()
                rows = [line.decode().split(" ", 1) for line in lines]
                report["steps"].append({"resp": text(resp), "rows": rows})
            elif verb == "retr":
                resp, lines, octets = pop.retr(args[0])
                report["steps"].append({"resp": text(resp), "data": b64(lines), "octets": octets})
            elif verb == "top":
                resp, lines, octets = pop.top(args[0], args[1])
                report["steps"].append({"resp": text(resp), "data": b64(lines)})
            elif verb == "dele":
                report["steps"].append({"resp": text(pop.dele(args[0]))})
            elif verb == "rset":
                report["steps"].append({"resp": text(pop.rset())})
            elif verb == "capa":
                report["steps"].append({"capa": sorted(pop.capa().keys())})
            elif verb == "quit":
                report["steps"].append({"resp": text(pop.quit())})
            elif verb == "drop":
                pop.sock.close()
                report["steps"].append({"dropped": True})
            else:
                raise ValueError("unknown step " + verb)
        except poplib.error_proto as e:
            arg = e.args[0]
            report["steps"].append({"error": arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)})
    print(json.dumps(report))


if __name__ == "__main__":
    main()
