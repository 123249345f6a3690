"""A loopback DNS server for the hng trial: the app validates every e-mail address it is given
(email_validator with check_deliverability, and its own dns.resolver MX look-up), and this
machine has no DNS. Every name gets one MX record (10 mx.NAME.) and one A record (127.0.0.1).
run.sh runs the web process in a mount namespace whose /etc/resolv.conf names this server.

usage: python dns_stub.py ADDRESS   (UDP port 53; runs until SIGTERM)
"""

from __future__ import annotations

import socket
import sys

import dns.message
import dns.rdatatype
import dns.rrset


def answer(query: dns.message.Message) -> dns.message.Message:
    """MX and A answers for any name; an empty answer for other types."""
    response = dns.message.make_response(query)
    for question in query.question:
        name = question.name
        if question.rdtype == dns.rdatatype.MX:
            response.answer.append(dns.rrset.from_text(name, 60, "IN", "MX", f"10 mx.{name}"))
        elif question.rdtype == dns.rdatatype.A:
            response.answer.append(dns.rrset.from_text(name, 60, "IN", "A", "127.0.0.1"))
    return response


def main() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((sys.argv[1], 53))
    print(f"dns on {sys.argv[1]}:53", flush=True)
    while True:
        data, peer = sock.recvfrom(4096)
        try:
            sock.sendto(answer(dns.message.from_wire(data)).to_wire(), peer)
        except dns.exception.DNSException:
            continue


if __name__ == "__main__":
    main()
