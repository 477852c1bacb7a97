using System.Security.Claims;
using Freshet.Server.Http;
using Microsoft.Extensions.Primitives;

namespace Freshet.Server.Governance;

/// <summary>
/// Authenticates every request before its body is read: a missing, malformed, unknown, revoked or expired key gets
/// 401 (HTTP JSON with <c>WWW-Authenticate</c>, or gRPC <c>UNAUTHENTICATED</c>); a valid key becomes the request's
/// <see cref="HttpContext.User"/>, named after the key, for the guard and the audit trail.
/// </summary>
internal static class ApiKeyAuthentication
{
    /// <summary>The authentication type of the principal.</summary>
    public const string Scheme = "ApiKey";

    /// <summary>The claim holding the key's public id.</summary>
    public const string KeyIdClaim = "freshet_key_id";

    public static void Register(IServiceCollection services, ApiKeyAuthOptions auth)
    {
        services.AddSingleton(auth);
        services.AddSingleton<ApiKeyring>();
        services.AddSingleton<ApiKeyFollower>();
        services.AddHostedService(sp => sp.GetRequiredService<ApiKeyFollower>());
        services.AddSingleton<IRequestGuard, ApiKeyGuard>();
    }

    public static void Use(WebApplication app, ApiKeyAuthOptions auth)
    {
        var keyring = app.Services.GetRequiredService<ApiKeyring>();
        app.Use(async (ctx, next) =>
        {
            if (auth.OpenPaths.Contains(ctx.Request.Path.Value ?? ""))
            {
                await next(ctx);
                return;
            }

            var presented = Presented(ctx.Request.Headers);
            if (!keyring.TryAuthenticate(presented, DateTimeOffset.UtcNow, out var caller, out var problem))
            {
                await RefuseAsync(ctx, presented is not null, problem);
                return;
            }

            ctx.Features.Set(caller);
            ctx.User = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, caller.Key.Name), new Claim(KeyIdClaim, caller.Key.Id)], Scheme));
            await next(ctx);
        });
    }

    /// <summary>The key of <c>Authorization: Bearer KEY</c>, else of <c>X-API-Key: KEY</c> (gRPC metadata are the same headers); null when neither is sent.</summary>
    internal static string? Presented(IHeaderDictionary headers)
    {
        if (headers.Authorization is { Count: > 0 } authorization)
        {
            var value = authorization.ToString().Trim();
            const string Bearer = "Bearer ";
            return value.StartsWith(Bearer, StringComparison.OrdinalIgnoreCase) ? value[Bearer.Length..].Trim() : value;
        }

        return headers.TryGetValue("X-API-Key", out var key) && key is { Count: > 0 } ? key.ToString().Trim() : null;
    }

    private static async Task RefuseAsync(HttpContext ctx, bool presented, string message)
    {
        if (ctx.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) == true)
        {
            // A gRPC "trailers-only" answer: the status travels in the headers, no message follows.
            ctx.Response.StatusCode = StatusCodes.Status200OK;
            ctx.Response.ContentType = "application/grpc";
            ctx.Response.Headers["grpc-status"] = "16";
            ctx.Response.Headers["grpc-message"] = Uri.EscapeDataString($"authorization: {message}");
            ctx.Response.Headers["freshet-error-code"] = "unauthenticated";
            ctx.Response.Headers["freshet-error-field"] = "authorization";
            return;
        }

        ctx.Response.StatusCode = StatusCodes.Status401Unauthorized;
        ctx.Response.Headers.WWWAuthenticate = new StringValues(presented ? "Bearer realm=\"freshet\", error=\"invalid_token\"" : "Bearer realm=\"freshet\"");
        ctx.Response.ContentType = "application/json";
        FeastJsonWriter.WriteError(ctx.Response.BodyWriter, "unauthenticated", "authorization", message);
        await ctx.Response.BodyWriter.FlushAsync(ctx.RequestAborted);
    }
}

/// <summary>The permission check: every object a request touches must be allowed by a grant of the request's action.</summary>
internal sealed class ApiKeyGuard : IRequestGuard
{
    public void Demand(HttpContext ctx, RequestAccess access)
    {
        var caller = ctx.Features.Get<ApiKeyCaller>()
            ?? throw new Serving.RequestException("authorization", "unauthenticated", "an API key is required: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'", 401);
        if (Denied(caller, access) is { } denied)
        {
            throw new Serving.RequestException("authorization", "permission_denied",
                $"key '{caller.Key.Name}' may not {access.Action} {denied.Kind} '{denied.Name}'", 403);
        }
    }

    /// <summary>The first object the caller may not touch, or null when every one is allowed.</summary>
    internal static AccessObject? Denied(ApiKeyCaller caller, RequestAccess access)
    {
        // A read through a feature service is allowed by a grant on the service: the service is what a model is
        // given, and its views come with it (docs/security.md).
        if (access.Objects.Count == 0)
        {
            // Nothing named (a materialization when no view is online): any grant of the action will do.
            return caller.Grants.Any(g => g.Action == "*" || g.Action == access.Action) ? null : new AccessObject("project", "*", Model.Metadata.NoTags);
        }

        var throughService = false;
        foreach (var o in access.Objects)
        {
            if (o.Kind == "feature_service")
            {
                if (!Allows(caller, access.Action, o))
                {
                    return o;
                }

                throughService = true;
            }
        }

        foreach (var o in access.Objects)
        {
            var isView = o.Kind is "feature_view" or "aggregation_view" or "on_demand_view" or "view";
            if (o.Kind != "feature_service" && !(throughService && isView) && !Allows(caller, access.Action, o))
            {
                return o;
            }
        }

        return null;
    }

    private static bool Allows(ApiKeyCaller caller, string action, AccessObject o)
    {
        foreach (var g in caller.Grants)
        {
            if (o.Kind == "project" ? g.AllowsProject(action) : g.Allows(action, o.Name, o.Tags))
            {
                return true;
            }
        }

        return false;
    }
}
