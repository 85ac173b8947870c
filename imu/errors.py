"""The one base of errors a user can fix: bad input, a missing file, no sensors.

Such an error's message is one line naming the problem; the `imu` command prints it as
"imu: error: MESSAGE" and exits non-zero, never with a traceback. Errors from a part of the
package that users meet (a session file that is not one, a sensor-choice file, Bluetooth,
a report folder) derive from `UserError`, keeping their own names and, where code catches
them that way, their older bases (ValueError, OSError, RuntimeError) as well.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix; its message is one line."""
