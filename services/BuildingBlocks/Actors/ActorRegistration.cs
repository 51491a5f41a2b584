using System.Collections.Frozen;
using System.Reflection;

namespace Transformation.Actors;

/// <summary>An actor's address: its registered type name (the stored state's name) and its key.</summary>
public readonly record struct ActorKey(string Type, string Id)
{
    public override string ToString() => $"{Type}/{Id}";
}

/// <summary>One actor interface bound to its class, with a prepared invoker for each of its methods.</summary>
internal sealed class ActorRegistration
{
    public ActorRegistration(string typeName, Type interfaceType, Type implementationType)
    {
        if (!interfaceType.IsInterface || !typeof(IActor).IsAssignableFrom(interfaceType))
        {
            throw new InvalidOperationException($"{interfaceType.Name} must be an interface deriving from IActor.");
        }

        if (!interfaceType.IsAssignableFrom(implementationType) || !typeof(ActorBase).IsAssignableFrom(implementationType) || implementationType.IsAbstract)
        {
            throw new InvalidOperationException($"{implementationType.Name} must be a concrete ActorBase implementing {interfaceType.Name}.");
        }

        TypeName = typeName;
        InterfaceType = interfaceType;
        ImplementationType = implementationType;
        Methods = interfaceType.GetInterfaces().Append(interfaceType)
            .Where(type => type != typeof(IActor))
            .SelectMany(type => type.GetMethods())
            .ToFrozenDictionary(method => method, ActorMethod.Create);
    }

    public string TypeName { get; }

    public Type InterfaceType { get; }

    public Type ImplementationType { get; }

    public FrozenDictionary<MethodInfo, ActorMethod> Methods { get; }
}

/// <summary>How one interface method is called: through the activation's mailbox, exclusive or read-only.</summary>
internal abstract class ActorMethod
{
    protected ActorMethod(MethodInfo method)
    {
        Invoker = MethodInvoker.Create(method);
        ReadOnly = method.IsDefined(typeof(ReadOnlyAttribute));
    }

    public bool ReadOnly { get; }

    protected MethodInvoker Invoker { get; }

    public static ActorMethod Create(MethodInfo method)
    {
        if (method.ReturnType == typeof(Task))
        {
            return new VoidActorMethod(method);
        }

        if (method.ReturnType.IsGenericType && method.ReturnType.GetGenericTypeDefinition() == typeof(Task<>))
        {
            var type = typeof(ActorMethod<>).MakeGenericType(method.ReturnType.GetGenericArguments()[0]);
            return (ActorMethod)Activator.CreateInstance(type, method)!;
        }

        throw new InvalidOperationException(
            $"{method.DeclaringType?.Name}.{method.Name} returns {method.ReturnType.Name}: actor methods are asynchronous and return Task or Task<T>.");
    }

    /// <summary>Returns the call's Task (or Task&lt;T&gt;) as the interface method declares it.</summary>
    public abstract object Call(ActorHost host, ActorKey key, object?[] arguments);
}

internal sealed class ActorMethod<TResult>(MethodInfo method) : ActorMethod(method)
{
    public override object Call(ActorHost host, ActorKey key, object?[] arguments) =>
        host.CallAsync(key, actor => (Task<TResult>)Invoker.Invoke(actor, arguments.AsSpan())!, ReadOnly);
}

internal sealed class VoidActorMethod(MethodInfo method) : ActorMethod(method)
{
    public override object Call(ActorHost host, ActorKey key, object?[] arguments) =>
        host.CallAsync(key, async actor =>
        {
            await (Task)Invoker.Invoke(actor, arguments.AsSpan())!;
            return true;
        }, ReadOnly);
}
