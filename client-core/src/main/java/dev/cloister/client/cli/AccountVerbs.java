package dev.cloister.client.cli;

import dev.cloister.client.CloisterClient;
import dev.cloister.client.profile.Profile;
import java.io.IOException;
import java.util.List;
import java.util.Set;

/** register, login, whoami: the verbs about who this home is. */
final class AccountVerbs {

  private AccountVerbs() {}

  static List<Verb> all() {
    return List.of(
        new Verb("register", "USER PASSWORD",
            "create an account and log this home in as a new device (PASSWORD '-' reads stdin)",
            AccountVerbs::register),
        new Verb("login", "USER PASSWORD",
            "log in (the first login in a home enrolls the device and uploads key packages)",
            AccountVerbs::login),
        new Verb("whoami", "", "print this home's user id and device id", AccountVerbs::whoami));
  }

  static int register(Invocation in) throws IOException {
    in.onlyOptions(Set.of());
    String user = in.arg(0, "USER");
    String password = in.password(1);
    in.noMoreThan(2);
    return loggedIn(in, CloisterClient.register(in.serverForLogin(), in.home(), user, password));
  }

  static int login(Invocation in) throws IOException {
    in.onlyOptions(Set.of());
    String user = in.arg(0, "USER");
    String password = in.password(1);
    in.noMoreThan(2);
    return loggedIn(in, CloisterClient.login(in.serverForLogin(), in.home(), user, password));
  }

  private static int loggedIn(Invocation in, CloisterClient client) {
    client.notices().forEach(n -> in.err().println("cloister: note: " + n));
    Profile.Account a = client.account();
    in.out().println(a.userId() + " " + a.deviceId());
    return 0;
  }

  static int whoami(Invocation in) throws IOException {
    in.onlyOptions(Set.of());
    in.noMoreThan(0);
    Profile.Account a = in.client().account();
    in.out().println(a.userId() + " " + a.deviceId());
    return 0;
  }
}
