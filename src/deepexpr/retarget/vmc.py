"""Stream rigs with the VMC protocol (OSC over UDP) to VSeeFace / VNyan / Warudo-style
receivers ("Marionette", default 127.0.0.1:39539; spec: https://protocol.vmc.info/english).

Per frame, as a VMC "Performer"/"Assistant" sends them:
    /VMC/Ext/Blend/Val  (string name, float value)   one per ARKit blendshape (52, `arkit`)
    /VMC/Ext/Blend/Apply                              apply the values above
    /VMC/Ext/Bone/Pos   ("Head", px, py, pz, qx, qy, qz, qw)   head rotation, position 0
    /VMC/Ext/OK         (int 1)                       a model is loaded / tracking ok
    /VMC/Ext/T          (float seconds)               frame time
ARKit names are what "perfect sync" receivers read. The head quaternion is in Unity's
left-handed frame (x right, y up, z forward): yaw about y, pitch about x, roll about z,
applied yaw, then pitch, then roll; signs follow the rig (receivers may mirror).

    >>> with VMCSender("127.0.0.1", 39539) as vmc:
    ...     vmc.send(rig.values, t)
"""

from __future__ import annotations

import math
import socket

from deepexpr.errors import InputError
from deepexpr.retarget.arkit import to_arkit

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 39539


def parse_address(text: str) -> tuple[str, int]:
    """"HOST:PORT", "HOST" or ":PORT" -> (host, port) with the VMC defaults.

    Raises:
        InputError: a port that is not 1..65535.
    """
    host, _, port = str(text).rpartition(":") if ":" in str(text) else (str(text), "", "")
    host = host or DEFAULT_HOST
    try:
        number = int(port) if port else DEFAULT_PORT
    except ValueError:
        number = -1
    if not 0 < number < 65536:
        raise InputError(f"--vmc {text}: the port must be a number 1..65535 (e.g. 127.0.0.1:39539)")
    return host, number


def head_quaternion(yaw: float, pitch: float, roll: float) -> tuple[float, float, float, float]:
    """(qx, qy, qz, qw) of R = Ry(yaw) Rx(pitch) Rz(roll), angles in degrees."""
    cy, sy = math.cos(math.radians(yaw) / 2), math.sin(math.radians(yaw) / 2)
    cp, sp = math.cos(math.radians(pitch) / 2), math.sin(math.radians(pitch) / 2)
    cr, sr = math.cos(math.radians(roll) / 2), math.sin(math.radians(roll) / 2)
    # q = qy * qx * qz
    qw = cy * cp * cr + sy * sp * sr
    qx = cy * sp * cr + sy * cp * sr
    qy = sy * cp * cr - cy * sp * sr
    qz = cy * cp * sr - sy * sp * cr
    return qx, qy, qz, qw


class VMCSender:
    """A VMC sender over UDP (python-osc). Fails with one line when the address cannot be used."""

    def __init__(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT):
        from pythonosc.udp_client import SimpleUDPClient

        try:
            socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
            self._client = SimpleUDPClient(host, int(port))
            self._client.send_message("/VMC/Ext/OK", 1)  # an unroutable address fails here
        except (OSError, socket.gaierror, OverflowError) as err:
            raise InputError(f"--vmc {host}:{port}: cannot send there ({err}); "
                             "check the receiver's address (default 127.0.0.1:39539)") from err
        self.host, self.port = host, int(port)

    def send(self, values: dict[str, float], t: float = 0.0) -> None:
        """Send one frame: ARKit blendshapes, apply, head bone, OK, time."""
        try:
            for name, value in to_arkit(values).items():
                self._client.send_message("/VMC/Ext/Blend/Val", [name, float(value)])
            self._client.send_message("/VMC/Ext/Blend/Apply", [])
            q = head_quaternion(values.get("head_yaw", 0.0), values.get("head_pitch", 0.0),
                                values.get("head_roll", 0.0))
            self._client.send_message("/VMC/Ext/Bone/Pos", ["Head", 0.0, 0.0, 0.0, *map(float, q)])
            self._client.send_message("/VMC/Ext/OK", 1)
            self._client.send_message("/VMC/Ext/T", float(t))
        except OSError as err:
            raise InputError(f"--vmc {self.host}:{self.port}: sending failed ({err})") from err

    def close(self) -> None:
        sock = getattr(self._client, "_sock", None)
        if sock is not None:
            sock.close()

    def __enter__(self) -> VMCSender:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
