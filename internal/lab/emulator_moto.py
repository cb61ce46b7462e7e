# Starts moto_server for the lab with two corrections. CreateLaunchTemplateVersion
# stores LaunchTemplateData.UserData wrapped, as CreateLaunchTemplate does, so
# that an instance launched from a template version 2+ with user data does not
# fail (moto 5.2.1 returns HTTP 500 there; AWS has no such limit). And an S3
# delete marker can be disposed of like an object version: moto 5.2.1 disposes
# of every version of a key it removes from a bucket whose versioning is
# suspended, and a delete marker there (the control plane deletes its restore
# request) failed DeleteObjects with HTTP 500, so `kforge down` could not
# empty the certs bucket; AWS deletes it. It refuses to start when moto or a
# corrected part is not the one it was written for.
# Usage: python emulator_moto.py [--check] [moto_server arguments...]
import hashlib
import inspect
import sys

MOTO_VERSION = "5.2.1"
# SHA-256 of inspect.getsource(LaunchTemplates.create_launch_template_version)
# in moto 5.2.1.
HANDLER_SHA256 = "a42f59b830ad86f1521d03ebd603374547a5eb01b7d63bb08c0c62dfb6a812b3"


def refuse(why):
    sys.stderr.write("kforge lab: emulator correction not applied: " + why + "\n")
    sys.exit(3)


def correct():
    import moto

    if moto.__version__ != MOTO_VERSION:
        refuse("moto is %s, the correction was written for %s; check whether this moto "
               "still needs it (docs/EMULATOR-NOTES.md) and update internal/lab/emulator_moto.py"
               % (moto.__version__, MOTO_VERSION))
    from moto.ec2.responses.launch_templates import LaunchTemplates
    from moto.ec2.utils import parse_user_data

    handler = LaunchTemplates.create_launch_template_version
    got = hashlib.sha256(inspect.getsource(handler).encode()).hexdigest()
    if got != HANDLER_SHA256:
        refuse("moto's create_launch_template_version differs from 5.2.1's (source SHA-256 %s); "
               "update internal/lab/emulator_moto.py" % got)

    def create_launch_template_version(self):
        get = self._get_param

        def get_param(name, default=None):
            value = get(name, default)
            if name == "LaunchTemplateData" and isinstance(value, dict):
                # What create_launch_template does with the same field.
                value["UserData"] = parse_user_data(get("LaunchTemplateData.UserData"))
            return value

        self._get_param = get_param
        try:
            return handler(self)
        finally:
            del self._get_param

    LaunchTemplates.create_launch_template_version = create_launch_template_version

    # A delete marker holds no data: nothing to dispose of.
    from moto.s3.models import FakeDeleteMarker

    if hasattr(FakeDeleteMarker, "dispose"):
        refuse("moto's FakeDeleteMarker has a dispose of its own; update internal/lab/emulator_moto.py")
    FakeDeleteMarker.dispose = lambda self, garbage=False: None


def main():
    args = sys.argv[1:]
    correct()
    if args[:1] == ["--check"]:
        print("kforge lab: emulator corrections apply to moto " + MOTO_VERSION)
        return 0
    from moto.server import main as server

    sys.argv = ["moto_server"] + args
    return server()


if __name__ == "__main__":
    sys.exit(main())
