using System.Reflection;

namespace Transformation.Actors;

/// <summary>Gives references to actors by interface and key, as Orleans' grain factory does; the actor activates on its first call.</summary>
public sealed class ActorFactory(ActorHost host)
{
    public TActor Get<TActor>(string id)
        where TActor : IActor
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        var registration = host.Registration(typeof(TActor));
        var reference = DispatchProxy.Create<TActor, ActorReference>();
        ((ActorReference)(object)reference).Bind(host, registration, new ActorKey(registration.TypeName, id));
        return reference;
    }
}

/// <summary>A reference to one actor: each interface call becomes a call queued to the actor's activation.</summary>
public class ActorReference : DispatchProxy
{
    private ActorHost? _host;
    private ActorRegistration? _registration;
    private ActorKey _key;

    internal void Bind(ActorHost host, ActorRegistration registration, ActorKey key) => (_host, _registration, _key) = (host, registration, key);

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        if (targetMethod.DeclaringType == typeof(object))
        {
            return string.Equals(targetMethod.Name, nameof(ToString), StringComparison.Ordinal) ? _key.ToString() : targetMethod.Invoke(this, args);
        }

        return _registration!.Methods[targetMethod].Call(_host!, _key, args ?? []);
    }
}
