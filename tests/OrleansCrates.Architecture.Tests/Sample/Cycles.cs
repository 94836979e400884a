// Namespaces in cycles on purpose, for NamespaceCycleTests.A_cycle_is_found: a parent and its child, and two siblings.
#pragma warning disable CA1812 // never instantiated: only read as metadata

namespace OrleansCrates.Architecture.Tests.Sample.Parent
{
    internal sealed class UsesChild
    {
        public Child.UsesParent? Child { get; set; }
    }

    namespace Child
    {
        internal sealed class UsesParent
        {
            public UsesChild? Parent { get; set; }
        }
    }
}

namespace OrleansCrates.Architecture.Tests.Sample.Left
{
    internal sealed class UsesRight
    {
        public Right.UsesLeft? Right { get; set; }
    }
}

namespace OrleansCrates.Architecture.Tests.Sample.Right
{
    internal sealed class UsesLeft
    {
        public Left.UsesRight? Left { get; set; }
    }
}
