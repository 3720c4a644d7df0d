users-title = Пользователи
users-new = Новый пользователь
users-search = Поиск
users-search-hint = имя, ФИО или адрес
users-site = Площадка
users-all-sites = Все площадки
users-status = Состояние
users-any-status = Любое
users-per-page = На странице
users-filter = Показать
users-count = { $count ->
    [one] { $count } пользователь
    [few] { $count } пользователя
   *[many] { $count } пользователей
}
users-none = Никого не найдено.
users-col-name = Адрес
users-col-display-name = ФИО
users-col-site = Площадка
users-col-status = Состояние
user-enabled = Активен
user-disabled = Отключён
user-enabled-hint = Отключённый пользователь не может войти и не получает почту; ничего не удаляется.
user-new-title = Новый пользователь
user-name = Имя (часть адреса до @)
user-name-hint = Официальный адрес будет имя@{ $domain }.
user-display-name = ФИО
user-site = Домашняя площадка
user-password = Пароль
user-create = Создать пользователя
user-facts = Сведения
user-official = Официальный адрес
user-local = Локальный адрес
user-former = Прежние адреса (почта на них доставляется)
user-has-password = задан
user-no-password = не задан — пользователь не может войти
user-groups = Списки рассылки и псевдонимы
user-edit = Изменить
user-move = Перенос на другую площадку
user-move-to = Новая домашняя площадка
user-move-hint = Прежде чем что-то изменится, вы увидите, что именно произойдёт.
user-move-button = Перенести…
user-move-nowhere = Других площадок с почтовыми ящиками нет.
user-reset-password = Сброс пароля
user-new-password = Новый пароль
user-set-password = Задать пароль
user-delete = Удалить пользователя…
ok-user-created = Пользователь создан.
ok-user-saved = Сохранено.
ok-user-deleted = Пользователь удалён.
ok-user-moved = Пользователь перенесён. Агенты получат изменение в течение нескольких секунд.
ok-password-set = Пароль задан; все сеансы пользователя завершены.
move-title = Перенос: { $name }
move-what = Домашней площадкой { $name } станет { $site }: туда переедет почтовый ящик и будет приходить новая почта.
move-new-local = Новый локальный адрес: { $address }
move-kept = Продолжит работать: { $address }
move-groups = { $count ->
    [0] Пользователь не состоит ни в одном списке рассылки.
    [one] Пользователь останется в { $count } списке рассылки или псевдониме, где он указан.
   *[other] Пользователь останется в списках рассылки и псевдонимах, где он указан (всего: { $count }).
}
move-mail = Письма, которые уже лежат в ящике на площадке { $from }, сами переедут на { $to } вместе с папками и отметками о прочтении; ни одно не потеряется и не появится дважды.
move-no-agent = На новой площадке пока нет агента: почта для пользователя будет ждать в очередях, пока агент не подключится.
move-button = Перенести на { $site }
delete-user-title = Удалить { $name }?
delete-user-what = На адрес { $address } больше нельзя будет писать: письма будут отклоняться.
delete-user-groups = { $count ->
    [0] Пользователь не состоит ни в одном списке рассылки.
    [one] Пользователь будет исключён из { $count } списка рассылки или псевдонима.
   *[other] Пользователь будет исключён из { $count } рассылок и псевдонимов.
}
delete-user-mailbox = Это действие нельзя отменить.
groups-title = Псевдонимы и списки рассылки
groups-new = Новый псевдоним или список рассылки
groups-none = Псевдонимов и списков рассылки пока нет.
groups-col-address = Адрес
groups-col-kind = Тип
groups-col-policy = Кто может писать
groups-col-members = Участники
groups-col-description = Описание
kind-alias = Псевдоним
kind-list = Список рассылки
policy-default = По умолчанию (псевдоним — кто угодно, список рассылки — пользователи домена)
policy-anyone = Кто угодно
policy-internal = Только пользователи домена
policy-members = Только участники
group-new-title = Новый псевдоним или список рассылки
group-name = Имя (часть адреса до @)
group-kind = Тип
group-description = Описание
group-policy = Кто может писать
group-policy-hint = Спискам рассылки на всю организацию лучше принимать письма только изнутри.
group-members = Участники
group-members-hint = По одному адресу в строке: пользователи, псевдонимы и списки рассылки домена { $domain } или внешние адреса.
group-create = Создать
group-members-title = Участники
group-no-members = Участников пока нет.
group-remove-member = Исключить
group-remove-member-label = Исключить { $address }
group-add-member = Добавить участника
group-add = Добавить
group-expansion = Куда уходит почта
group-expansion-total = { $count ->
    [one] Всего { $count } почтовый ящик
    [few] Всего { $count } почтовых ящика
   *[many] Всего { $count } почтовых ящиков
}
mailboxes-count = { $count ->
    [one] { $count } ящик
    [few] { $count } ящика
   *[many] { $count } ящиков
}
group-external = Внешние адреса
group-edit = Изменить
group-delete = Удалить…
ok-group-created = Создано.
ok-group-saved = Сохранено.
ok-group-deleted = Удалено.
ok-member-added = Участник добавлен.
ok-member-removed = Участник исключён.
delete-group-title = Удалить { $address }?
delete-group-what = Письма на { $address } будут отклоняться.
delete-group-containing = { $count ->
    [0] В других списках рассылки этот адрес не указан.
    [one] Адрес будет исключён из { $count } списка рассылки, где он указан.
   *[other] Адрес будет исключён из { $count } рассылок, где он указан.
}
sites-title = Площадки
sites-intro = У каждой площадки свой поддомен и один или несколько агентов. Приоритеты MX: сначала площадки уровня 0, затем площадки уровня 1, начиная с той, где больше активных пользователей; уровень 2 не является MX.
sites-new = Новая площадка
sites-col-site = Площадка
sites-col-domain = Домен
sites-col-level = Уровень
sites-col-users = Пользователи (активные / все)
sites-col-mx = Приоритет MX
sites-col-agents = Агенты
site-id = Код площадки (поддомен)
site-id-hint = Одна метка DNS; локальные адреса будут вида имя@код.{ $domain }.
site-name = Название
site-level = Уровень сервера
level-0-description = Уровень 0 — основной MX, без почтовых ящиков
level-1-description = Уровень 1 — резервный MX с локальными пользователями
level-2-description = Уровень 2 — только локальные пользователи, может быть за NAT
level-name = { $level ->
    [0] Уровень 0
    [1] Уровень 1
   *[2] Уровень 2
}
site-create = Создать площадку
site-facts = Сведения
site-users = Активных: { $active } из { $count }
site-active-users = { $count ->
    [one] { $count } активный пользователь
    [few] { $count } активных пользователя
   *[many] { $count } активных пользователей
}
site-not-mx = не MX
site-edit = Изменить
site-agents = Агенты
site-delete = Удалить площадку…
enroll-hint = Одноразовый код позволяет новому агенту подключиться к этой площадке. Код показывается один раз.
enroll-button = Получить код подключения
enroll-code-title = Код подключения
enroll-code-intro = Выполните эти команды на сервере площадки: первая подключает агент (код действует один раз, до { $expires }), вторая запускает его. Сначала направьте имя площадки в DNS на этот сервер.
ok-site-created = Площадка создана.
ok-site-saved = Сохранено.
ok-site-deleted = Площадка удалена.
delete-site-title = Удалить площадку { $site }?
delete-site-what = Площадка { $site } и её поддомен будут удалены.
delete-site-agents = { $count ->
    [0] Агентов у неё нет.
    [one] Подключённый агент будет отключён и удалён из списка.
   *[other] Подключённые агенты ({ $count }) будут отключены и удалены из списка.
}
agents-none = Ни один агент ещё не подключился.
agents-col-agent = Агент
agents-col-state = Состояние
agents-col-applied = Версия
agents-col-lag = Отставание
agents-col-contact = Последняя связь
agent-in-sync = синхронизирован
agent-catching-up = догоняет
agent-stale = не отвечает
agent-never = ни разу не выходил на связь
agent-pulls = сам запрашивает изменения
lag-sets = { $count ->
    [0] —
    [one] { $count } изменение
    [few] { $count } изменения
   *[many] { $count } изменений
}
dns-title = Записи DNS
dns-intro = Опубликуйте эти записи в зоне { $domain }. Они меняются, когда меняются площадки, уровни или агенты.
dns-zone-header = Записи для { $domain }, подготовлены системой «Почта»
dns-mx-comment = Почтовые серверы: сначала уровень 0, затем уровень 1 по числу активных пользователей; поддомены площадок используют те же серверы
history-title = Журнал изменений
history-search = Поиск
history-search-hint = кто изменил, или имя и адрес, которые изменились
history-none = Ничего не найдено.
history-older = Раньше
history-details = { $bytes ->
    [one] Подробности ({ $bytes } байт при передаче)
    [few] Подробности ({ $bytes } байта при передаче)
   *[many] Подробности ({ $bytes } байт при передаче)
}
history-more-ops = { $count ->
    [one] …и ещё { $count } изменение
    [few] …и ещё { $count } изменения
   *[many] …и ещё { $count } изменений
}
op-set-password = Пароль пользователя { $name } изменён
op-delete-group = Псевдоним или список рассылки { $name } удалён
import-title = Импорт пользователей
import-intro = Вставьте CSV или выберите файл (UTF-8 или Windows-1251, как сохраняет русский Excel; разделитель — запятая или точка с запятой): имя, ФИО, площадка, а также, по желанию, пароль, признак активности (yes/no) и квота (в байтах или с единицей MB/GB: 500MB, 2GB; пусто — квота площадки). Новые имена создают пользователей, существующие обновляются (другая площадка — это перенос). Сначала посмотрите, что изменится: импорт — одно изменение, всё или ничего.
import-file = Файл CSV
import-csv = CSV
import-preview = Проверить
import-apply = Импортировать
import-preview-title = Что изменится
import-summary = Создать: { $create }, обновить: { $update }, без изменений: { $unchanged }; { $count ->
    [0] ошибок нет.
    [one] { $count } ошибка.
    [few] { $count } ошибки.
   *[many] { $count } ошибок.
}
import-done = Импортировано, версия { $version }.
import-col-line = Строка
import-col-action = Действие
import-col-note = Примечание
import-create = создать
import-update = обновить
import-unchanged = без изменений
import-invalid = ошибка
import-field-display-name = ФИО
import-field-site = площадка (перенос)
import-field-enabled = активность
import-field-password = пароль
dashboard-title = Обзор
dashboard-version = версия справочника
dashboard-users = { $count ->
    [one] пользователь
    [few] пользователя
   *[many] пользователей
}
dashboard-groups = { $count ->
    [one] псевдоним или список рассылки
    [few] псевдонима и списка рассылки
   *[other] псевдонимов и списков рассылки
}
dashboard-sites = { $count ->
    [one] площадка
    [few] площадки
   *[many] площадок
}
dashboard-stale = { $count ->
    [one] { $count } агент не выходит на связь или отстаёт.
    [few] { $count } агента не выходят на связь или отстают.
   *[many] { $count } агентов не выходят на связь или отстают.
}
dashboard-sites-title = Площадки и агенты
dashboard-traffic = Почтовый трафик
dashboard-period = Период
period-hour = последний час
period-day = последние сутки
period-week = последние 7 дней
dashboard-no-data = Данных пока нет: агенты начнут присылать счётчики, когда заработает почтовая служба.
traffic-received = Получено
traffic-accepted = Принято
traffic-delivered = Доставлено
traffic-sent = Отправлено
traffic-queue = В очереди
traffic-refused = Отклонено
traffic-refused-why = Причины отказов, { $site }:
traffic-as-of = Данные на
traffic-moved = Перенос ящиков
traffic-moved-in-out = { $in } получено / { $out } передано
traffic-old = Агенты площадки не присылали отчётов больше двух часов: цифры могут быть устаревшими.
traffic-old-short = устарело
traffic-explained = «Получено» — входящие SMTP-соединения, как в статье: все попытки, в том числе отклонённые. «Принято» — письма, взятые на доставку. «Отклонено» — отвергнутые письма и команды (причины ниже). «Доставлено» — копии, положенные в почтовые ящики площадки. «Отправлено» — письма, переданные другим серверам, по одному на сеанс передачи. «В очереди» — письма, ожидавшие отправки на момент последнего отчёта. «Перенос ящиков» — письма переносимых на площадку или с неё почтовых ящиков; они считаются отдельно от почты. Агенты присылают отчёт в течение 30 секунд после новой почты, а без неё — раз в час.
refusal-unknown-recipient = нет такого получателя
refusal-relay = попытка пересылки через нас
refusal-greylisted = серый список
refusal-dnsbl = в чёрном списке (DNSBL)
refusal-forged = подделка отправителя (SPF, DKIM, DMARC)
refusal-spam = спам
refusal-virus = вирус
refusal-rate = лимиты соединений
refusal-auth = неудачные входы
refusal-quota = ящик переполнен
refusal-ours = временный сбой у нас (проверка, диск, очередь)
refusal-other = прочие ошибки протокола
dashboard-scanner-deferring = { $scanner } у агента { $agent } ({ $site }) не отвечает с { $since }: почта извне откладывается (451), пока он не заработает. Ошибка: { $error }
dashboard-scanner-unscanned = { $scanner } у агента { $agent } ({ $site }) не отвечает с { $since }: почта извне принимается без проверки. Ошибка: { $error }
dashboard-dkim-deferring = Агент { $agent } ({ $site }) не может подписать письма DKIM с { $since }: почта на внешние домены ждёт в очереди, пока ключ не заработает. Ошибка: { $error }
dashboard-dkim-unsigned = Агент { $agent } ({ $site }) не может подписать письма DKIM с { $since }: почта на внешние домены уходит без подписи и может попасть в спам или быть отклонена. Ошибка: { $error }
chart-title = Принятые письма за период по площадкам
chart-caption = Принятые письма по площадкам (время UTC); в скобках — всего за период:
dashboard-moving = Перенос почтовых ящиков:
dashboard-move = { $user } → { $site }: { $count } из { $total } { $total ->
    [one] письма
    [few] писем
   *[many] писем
}
dashboard-move-bytes = { $moved } из { $total }
dashboard-move-rate = { $rate }/с, осталось около { $eta }
dashboard-moves-finished = Завершённые переносы за 7 дней
moved-done = { $user } → { $site }: { $count } { $count ->
    [one] письмо
    [few] письма
   *[many] писем
} ({ $bytes }) за { $time }, { $when }
moved-kept = { $count ->
    [one] { $count } письмо слишком велико для новой площадки и осталось на старой
    [few] { $count } письма слишком велики для новой площадки и остались на старой
   *[many] { $count } писем слишком велики для новой площадки и остались на старой
}
moved-back = { $user } → { $site }: пользователя вернули обратно после { $count } { $count ->
    [one] письма
   *[other] писем
}, { $when }; остальные письма остались на месте
moved-failed = { $user } → { $site }: перенос остановлен после { $count } { $count ->
    [one] письма
   *[other] писем
}, { $when }: { $reason }. Он продолжится при следующей проверке (в течение минуты)
user-moves = Перенос почтового ящика
user-moving = Идёт перенос:
dashboard-recent = Последние изменения
dashboard-all-history = Весь журнал

users-col-usage = Занято в ящике
site-default-quota = Квота по умолчанию
site-default-quota-hint = Для пользователей без собственной квоты. Пустое поле — без ограничения.
site-outgoing = Исходящие адреса
site-outgoing-hint = Публичные адреса IPv4 и IPv6, с которых уходит почта этой площадки, по одному в строке: страница DNS включает их в запись SPF. Пустое поле — адреса, которые объявляют её агенты; если площадка за NAT, укажите адрес маршрутизатора.
ok-mailbox-saved = Настройки почтового ящика сохранены.
ok-app-password-revoked = Пароль приложения отозван: программы, которые им пользовались, больше не смогут войти.
import-field-quota = квота
dns-no-mx = Пока ни одна площадка не может принимать почту извне: запись MX появится, когда агент площадки уровня 0 или 1 будет подключён и начнёт присылать отчёты
dns-a-comment = Адреса серверов опубликованных площадок
dns-spf-comment = SPF: адреса, с которых уходит почта отправляющих площадок, каждый по одному разу (уровень 2 отправляет через них)
dns-dkim-comment = DKIM: все ключи домена; новый ключ опубликуйте до включения, выведенный держите, пока он не будет удалён
dns-dmarc-comment = DMARC: для начала p=none, отчёты — на postmaster
dns-mta-sts-comment = MTA-STS (RFC 8461): отправители берут политику с https://mta-sts.{ $domain }/.well-known/mta-sts.txt (направьте mta-sts на этот сервер); режим testing
dns-tls-rpt-comment = TLS-RPT (RFC 8460): куда другие серверы сообщают об ошибках TLS
dns-not-yet-comment = Пока не опубликованы:
dns-not-yet-title = Площадки, которые ещё не опубликованы
dns-not-yet-intro = Эти площадки не входят в MX и SPF, пока не смогут принимать почту: иначе письма пойдут на сервер, которого ещё нет.
dns-not-yet-reason = Причина
dns-not-yet-no-agent = агент ещё не подключён (подключите его на странице площадки)
dns-not-yet-no-smtp = у её агентов не запущен SMTP (подключите агент с --smtp)
dns-not-yet-never-reported = агент подключён, но ещё ни разу не связался с сервером
dns-dmarc-guidance = DMARC: начните с p=none и две недели читайте отчёты. Когда все законные отправители проходят проверку, ужесточите политику до p=quarantine, затем до p=reject.
dns-check-title = Проверить DNS
dns-check-intro = Запрашивает каждую запись в DNS и сравнивает с тем, что должно быть опубликовано.
dns-check-button = Проверить DNS
dns-check-name = Имя
dns-check-type = Тип
dns-check-result = Результат
dns-check-correct = опубликована верно
dns-check-missing = нет в DNS
dns-check-different = отличается: в DNS { $found }
dns-check-unanswered = DNS не ответил: { $error }
dkim-title = Ключи DKIM
dkim-intro = Агенты подписывают активными ключами каждое письмо, которое уходит на внешние домены. Закрытые ключи доставляются агентам в подписанных наборах изменений и нигде не показываются.
dkim-none = Ключей пока нет: почта на внешние домены уходит без подписи, и крупные почтовые службы отправят её в спам или отклонят. Создайте ключ и опубликуйте его запись.
dkim-col-selector = Селектор
dkim-col-type = Тип
dkim-col-state = Состояние
dkim-col-created = Создан
dkim-col-actions = Действия
dkim-state-pending = ждёт публикации, пока не подписывает
dkim-state-active = подписывает
dkim-state-retiring = выведен из работы: ещё опубликован, будет удалён { $until }
dkim-activate = Включить
dkim-activate-hint = Включайте ключ, только когда его запись уже есть в DNS (проверьте выше). Ключ того же типа, который подписывал до сих пор, выводится из работы: его запись остаётся на время вывода, чтобы подписанные им письма проходили проверку.
dkim-retire = Вывести из работы
dkim-delete = Удалить
dkim-new-type = Тип ключа
dkim-new-hint = RSA-2048 проверяют все. Ed25519 — вторая подпись рядом с RSA: некоторые получатели её не проверяют.
dkim-new = Создать ключ
ok-dkim-created = Ключ создан. Опубликуйте его запись, проверьте DNS и включите ключ.
ok-dkim-activated = Ключ включён: агенты подписывают им, начиная со следующего письма.
ok-dkim-retired = Ключ выведен из работы: он больше не подписывает и остаётся в DNS до конца срока вывода.
ok-dkim-deleted = Ключ удалён.
import-at-column = столбец { $column } ({ $name }): { $error }
import-created = Созданы
import-updated = Изменены
import-export = Выгрузить всех пользователей:
import-export-excel = CSV для Excel
op-put-dkim-key = { $state ->
    [pending] Создан ключ DKIM { $selector } ({ $algorithm }), ждёт публикации
    [active] Включён ключ DKIM { $selector } ({ $algorithm })
   *[retiring] Ключ DKIM { $selector } ({ $algorithm }) выведен из работы
}
op-delete-dkim-key = Ключ DKIM { $selector } удалён
history-self-service = { $name } (сам)
logins-title = Приостановленные входы
logins-intro = После неверных паролей посторонним приходится ждать перед следующей попыткой; с адреса, с которого владелец входил последним, ждать не нужно. Если с одного адреса ошибаются для многих учётных записей, ему отказывают для всех. Снимите ограничение, если знаете, кто это был.
logins-accounts = Учётные записи
logins-clients = Адреса клиентов
logins-none = Нет.
logins-account-detail = Неудачных попыток: { $count }; { $wait }
logins-lift = Снять
ok-login-lifted = Ограничение снято: следующая попытка будет пропущена.
names-title = Имена почтовых ящиков
names-unicode = Разрешить в новых именах буквы других алфавитов (иванов@, müller@)
names-unicode-hint = По умолчанию выключено: имена состоят из латинских букв, цифр, точек, дефисов и подчёркиваний. Адресу с другими буквами нужна поддержка SMTPUTF8 на каждом сервере и в каждой почтовой программе по пути, и многие внешние отправители до сих пор не могут на него написать. Уже выданные имена работают в любом случае.
ok-settings-saved = Настройки сохранены.
op-unicode-names-on = В новых именах разрешены буквы других алфавитов
op-unicode-names-off = Новые имена — только латиницей

## Журнал изменений
history-version = Версия { $version }
history-reverts = отменяет версию { $version }
history-revert = Отменить…
history-object = Объект
history-object-hint = пользователь, список, площадка или адрес
history-author = Кто изменил
history-anyone = Все
history-site = Площадка
history-all-sites = Все площадки
history-kind = Тип
history-all-kinds = Все типы
history-kind-user = Пользователи
history-kind-password = Пароли
history-kind-group = Псевдонимы и списки рассылки
history-kind-site = Площадки
history-kind-dkim = Ключи DKIM
history-kind-settings = Настройки домена
history-since = С
history-until = По
history-clear = Сбросить фильтры
err-history-date = «{ $value }» — не дата; укажите её в виде ГГГГ-ММ-ДД.
ch-site-created = Создана площадка «{ $site }» (уровень { $level })
ch-site-changed = Изменена площадка «{ $site }»
ch-site-saved = Сохранена площадка «{ $site }»
ch-site-deleted = Удалена площадка { $site }
ch-user-created = { $enabled ->
    [no] Создан пользователь { $name }, площадка «{ $site }» (отключён)
   *[yes] Создан пользователь { $name }, площадка «{ $site }»
}
ch-user-moved = { $name }: ящик перенесён с площадки «{ $from }» на «{ $to }»
ch-user-disabled = Пользователь { $name } отключён
ch-user-enabled = Пользователь { $name } включён
ch-user-changed = Изменён пользователь { $name }
ch-user-saved = Сохранён пользователь { $name }
ch-user-deleted = Удалён пользователь { $name }
ch-user-deleted-at = Удалён пользователь { $name } (площадка «{ $site }»)
ch-password-removed = Пользователь { $name } больше не может входить по паролю
ch-app-password-added = Для пользователя { $name } создан пароль приложения «{ $label }»
ch-app-password-revoked = Пароль приложения «{ $label }» пользователя { $name } отозван
ch-group-created = { $kind ->
    [alias] Создан псевдоним { $name } (участников: { $count })
   *[list] Создан список рассылки { $name } (участников: { $count })
}
ch-member-added = { $group }: добавлен участник { $member }
ch-member-removed = { $group }: исключён участник { $member }
ch-group-changed = { $kind ->
    [alias] Изменён псевдоним { $name }
   *[list] Изменён список рассылки { $name }
}
ch-group-saved = { $kind ->
    [alias] Сохранён псевдоним { $name }
   *[list] Сохранён список рассылки { $name }
}
field-change = { $field }: { $old } → { $new }
field-display_name = ФИО
field-quota = Квота
field-forward = Пересылка
field-forward_keep_copy = Оставлять копию
field-vacation = Автоответ
field-vacation_text = Изменены текст или даты автоответа
field-site_name = Название
field-level = Уровень
field-default_quota = Квота по умолчанию
field-outgoing = Адреса отправки
field-agents = Агенты
field-kind = Тип
field-description = Описание
field-policy = Кто может писать
value-none = нет
value-no-limit = без ограничений
value-yes = да
value-no = нет
revert-title = Отмена версии { $version }
revert-intro = Будет создан новый набор изменений, который вернёт то, что заменила версия { $version } ({ $author }, { $when }):
revert-moves-back = Ящик пользователя { $name } вернётся на прежнюю площадку; уже перенесённые письма последуют за ним, оба адреса продолжат работать.
revert-button = Отменить изменения
ok-reverted = Изменения отменены. Агенты получат их в течение секунды.

## Трассировка адреса
nav-trace = Трассировка
trace-title = Трассировка адреса
trace-intro = Что произойдёт с письмом на этот адрес — по тем же правилам, которые применяют агенты при приёме письма.
trace-rcpt = Получатель
trace-from = Отправитель (необязательно)
trace-from-hint = Его проверяют списки «только для участников»; для уведомления о недоставке оставьте поле пустым.
trace-internal = Отправитель — наш пользователь, вошедший в систему
trace-entry = Письмо поступает на площадку
trace-entry-hint = Почта извне поступает на основной MX, письмо нашего пользователя — на его площадку.
trace-button = Проверить
trace-result = Что произойдёт
trace-named-user = { $enabled ->
    [no] { $address } — ящик пользователя { $name } на площадке { $site }; ящик отключён.
   *[yes] { $address } — ящик пользователя { $name } на площадке { $site }.
}
trace-named-group = { $kind ->
    [alias] { $address } — псевдоним, участников: { $count }; кто может писать: { $policy }.
   *[list] { $address } — список рассылки, участников: { $count }; кто может писать: { $policy }.
}
trace-named-all = { $address } — все включённые пользователи домена (писать могут только наши пользователи).
trace-named-all-site = { $address } — все включённые пользователи площадки { $site } (писать могут только наши пользователи).
trace-named-nobody = Пользователя, псевдонима или списка с адресом { $address } нет.
trace-named-outside = { $domain } — не наш домен.
trace-refused = Отказ на этапе RCPT TO, код { $code } { $status }: { $reason }.
trace-reason-not_ours = мы не пересылаем почту посторонних в другие домены
trace-reason-unknown_recipient = такого пользователя, псевдонима или списка нет
trace-reason-disabled = ящик отключён
trace-reason-not_allowed = отправителю нельзя писать в { $group }
trace-accepted = Письмо будет принято: ящиков — { $mailboxes }, площадок — { $sites }, внешних адресов — { $outside }; на каждую площадку уходит одна копия.
trace-empty = Письмо будет принято, но его никто не получит (пустой список или площадка без пользователей).
trace-col-site = Площадка
trace-col-mailboxes = Ящики
trace-col-way = Как туда попадает копия
trace-hop-here = Кладётся в ящики на площадке { $site }, куда поступает письмо.
trace-hop-direct = Одна копия напрямую с площадки { $from } агенту площадки { $site } по TLS с закреплённым сертификатом.
trace-hop-waits = Ждёт в очереди на площадке { $from }: у площадки { $site } ещё нет агента, принимающего почту; попытки повторяются, пока он не подключится.
trace-outside = { $addresses }: площадка { $from } отправляет на MX домена { $domain } (или на свой промежуточный сервер, если он задан).
trace-outside-relay = { $addresses }: площадка { $from } передаёт площадке { $relay }, а та отправляет на MX домена { $domain }.
trace-forward = { $keep ->
    [yes] { $name } пересылает почту на { $to } и оставляет копию у себя; пересылает площадка { $site }.
   *[no] { $name } пересылает почту на { $to } без копии у себя; пересылает площадка { $site }.
}
trace-vacation = У пользователя { $name } включён автоответ: отправитель получит автоматический ответ с его домашней площадки.
trace-this-address = Куда уходит почта на этот адрес

## Очереди почты
nav-queue = Очереди
queue-title = Очереди почты
queue-intro = Что ждёт отправки у каждого агента площадки и почему. Агент отвечает по своей очереди и выполняет выбранное действие в течение секунды.
queue-site = Площадка
queue-search = Отправитель или получатель
queue-search-hint = часть адреса
queue-no-agents = У этой площадки ещё нет агентов.
queue-agent = Агент { $agent }
queue-pulls = Агент { $agent } сам запрашивает изменения, поэтому сервер не может к нему подключиться. На его площадке выполните: pochta-agent --data <папка> queue list
queue-unreachable = Агент { $agent } не ответил: { $reason }
queue-count = { $count ->
    [0] Очередь пуста.
    [one] В очереди { $count } письмо.
    [few] В очереди { $count } письма.
   *[other] В очереди { $count } писем.
}
queue-count-matched = Подходит писем: { $count } из { $total }.
queue-null-sender = <> (уведомление о недоставке)
queue-next-now = сейчас
queue-next-in = через { $time }
queue-choose = Выбрать
queue-choose-letter = Выбрать письмо { $id }
queue-col-age = Ждёт
queue-col-from = Отправитель
queue-col-waiting = Ещё не доставлено — последняя ошибка
queue-col-attempts = Попыток
queue-col-next = Следующая попытка
queue-col-size = Размер
queue-retry = Повторить сейчас
queue-bounce = Вернуть отправителю
queue-delete = Удалить
queue-confirm-bounce = { $count ->
    [one] Вернуть { $count } письмо отправителю?
    [few] Вернуть { $count } письма отправителям?
   *[other] Вернуть { $count } писем отправителям?
}
queue-confirm-bounce-what = Агент { $agent } прекратит попытки; каждый отправитель получит уведомление о недоставке для ещё не получивших письмо адресатов. Письма:
queue-confirm-delete = { $count ->
    [one] Удалить { $count } письмо?
    [few] Удалить { $count } письма?
   *[other] Удалить { $count } писем?
}
queue-confirm-delete-what = Агент { $agent } удалит их из очереди безвозвратно; никто не будет уведомлён. Письма:
ok-queue-retry = Агент сейчас повторит отправку выбранных писем.
ok-queue-bounce = Выбранные письма возвращены отправителям.
ok-queue-delete = Выбранные письма удалены из очереди.

## Массовые действия со списком пользователей
bulk-all = Выбрать всех пользователей на этой странице
bulk-choose = Выбрать { $address }
bulk-action = С выбранными пользователями
bulk-disable = Отключить
bulk-enable = Включить
bulk-move = Перенести на площадку
bulk-add = Добавить в псевдоним или список
bulk-export = Выгрузить в CSV
bulk-delete = Удалить
bulk-site = Площадка (куда перенести)
bulk-group = Псевдоним или список (куда добавить)
bulk-apply = Применить…
bulk-confirm-disable = { $count ->
    [one] Отключить { $count } пользователя?
   *[other] Отключить пользователей: { $count }?
}
bulk-confirm-enable = { $count ->
    [one] Включить { $count } пользователя?
   *[other] Включить пользователей: { $count }?
}
bulk-confirm-move = { $count ->
    [one] Перенести { $count } пользователя на площадку «{ $site }»?
   *[other] Перенести пользователей на площадку «{ $site }»: { $count }?
}
bulk-confirm-add = { $count ->
    [one] Добавить { $count } пользователя в { $group }?
   *[other] Добавить пользователей в { $group }: { $count }?
}
bulk-confirm-delete = { $count ->
    [one] Удалить { $count } пользователя?
   *[other] Удалить пользователей: { $count }?
}
bulk-what-disable = Они не смогут входить в систему, почта на их адреса будет отклоняться; их сеансы завершатся. Ящики сохранятся.
bulk-what-enable = Они снова смогут входить в систему и получать почту.
bulk-what-move = Их ящики вместе с письмами переедут на новую площадку; почта продолжит приходить во время переноса, прежние адреса площадки продолжат работать.
bulk-what-add = Их адреса станут участниками; с этого момента они будут получать письма псевдонима или списка.
bulk-what-delete = Их учётные записи будут удалены, они будут исключены из всех псевдонимов и списков; их сеансы завершатся. Журнал изменений позволит вернуть учётные записи, но не письма.
bulk-unchanged = Изменятся { $changed } из { $count }; остальные уже в нужном состоянии.
bulk-and-more = и ещё { $count }
bulk-confirm-button = Применить
ok-bulk-done = Готово: выбранные пользователи изменены.
ok-bulk-nothing = Менять нечего: выбранные пользователи уже в нужном состоянии.
user-add-to-group = Добавить в псевдоним или список
user-add-to-group-button = Добавить
user-new-alias = Создать псевдоним для этого пользователя

## Администраторы
nav-admins = Администраторы
admins-title = Администраторы
admins-col-name = Имя для входа
admins-col-created = Создан
admins-col-state = Состояние
admins-col-actions = Действия
admins-you = это вы
admins-enabled = Активен
admins-disabled = Отключён
admins-reset = Новый пароль
admins-reset-label = Новый пароль для { $name }
admins-disable = Отключить
admins-disable-label = Отключить { $name }
admins-enable = Включить
admins-enable-label = Включить { $name }
admins-new = Новый администратор
admins-name-hint = Строчные латинские буквы, цифры, точки, дефисы и подчёркивания; это имя для входа.
admins-create = Создать
admins-password-for = Пароль для { $name }
admins-password-once = Показывается только сейчас: передайте его лично или по телефону. Вход — по имени и этому паролю, сразу после входа нужно будет задать свой.
ok-admin-created = Администратор { $name } создан.
ok-admin-reset = У { $name } новый пароль; его сеансы завершены.
ok-admin-disabled = Администратор отключён: его сеансы завершены, его API-токены больше не действуют.
ok-admin-enabled = Администратор снова может входить в систему.

## Агенты на странице площадки
agents-col-endpoints = Адреса
agent-endpoint-pulls = сам запрашивает изменения (адреса нет)
agent-endpoint-no-smtp = почту не принимает (SMTP не запущен)
agent-queue-link = Очередь
agent-forget = Отключить…
forget-agent-title = Отключить агента { $agent }?
forget-agent-access = Агент больше не сможет получать изменения и присылать отчёты; его регистрация отменяется сразу.
forget-agent-mail = Его адрес SMTP будет удалён из каталога: другие площадки перестанут отправлять ему почту для площадки «{ $site }».
forget-agent-queue = Письма, уже стоящие в его очереди, останутся на его компьютере, пока там снова не заработает агент.
forget-agent-last = У площадки «{ $site }» не останется агента, принимающего почту: письма её пользователям будут ждать в очередях других площадок (с повторными попытками), пока не подключится новый агент.
forget-agent-others = { $count ->
    [one] Почту площадки продолжит принимать ещё { $count } агент.
    [few] Почту площадки продолжат принимать ещё { $count } агента.
   *[other] Почту площадки продолжат принимать ещё { $count } агентов.
}
forget-agent-again = Чтобы вернуть его, создайте на этой странице новый код подключения и подключите агента заново.
forget-agent-button = Отключить агента
ok-agent-forgotten = Агент отключён и удалён из списка.
agent-facts = версия { $version } · свободно { $free } из { $total }

## Своя учётная запись и двухфакторный вход
account-title = Моя учётная запись
totp-title = Двухфакторный вход
totp-on = Включён
totp-off = Выключен
totp-off-intro = При двухфакторном входе украденного пароля мало: для входа нужен ещё код из приложения-аутентификатора на телефоне (Яндекс Ключ, Google Authenticator, Microsoft Authenticator, Aegis, FreeOTP и подобные). Код спросят и при создании API-токена.
totp-on-intro = Для входа нужны пароль и код из приложения. Если меняете телефон, выключите двухфакторный вход здесь и настройте его заново на новом.
totp-codes-left = { $count ->
    [one] Остался { $count } код восстановления.
    [few] Осталось { $count } кода восстановления.
   *[many] Осталось { $count } кодов восстановления.
}
totp-set-up = Настроить двухфакторный вход
totp-step-scan = 1. Отсканируйте этот QR-код приложением-аутентификатором.
totp-step-key = Не получается отсканировать? Добавьте учётную запись в приложении вручную по этому ключу (тип — по времени):
totp-step-code = 2. Введите шестизначный код, который теперь показывает приложение
totp-turn-on = Включить
totp-current-code = Текущий код из приложения
totp-renew = Новые коды восстановления
totp-turn-off = Выключить двухфакторный вход
totp-codes-title = Ваши коды восстановления
totp-codes-once = Показываются только сейчас. Распечатайте их или сохраните в менеджере паролей: каждый код один раз позволяет войти без телефона. Новые коды отменяют эти.
ok-totp-on = Двухфакторный вход включён. При следующем входе понадобится код из приложения.
ok-totp-codes = Созданы новые коды восстановления; прежние больше не действуют.
ok-totp-off = Двухфакторный вход выключен: для входа достаточно пароля.
admins-col-totp = Двухфакторный вход
admins-totp-off = Выключить 2FA
admins-totp-off-label = Выключить двухфакторный вход для { $name }
ok-admin-totp-off = Двухфакторный вход для этого администратора выключен, его сеансы завершены: он входит по одному паролю и может заново настроить второй фактор на странице своей учётной записи.
admins-must-change = выданный пароль не сменён
account-password-intro = После смены завершатся все остальные ваши сеансы. Созданные вами API-токены продолжат действовать.
admins-col-sites = Площадки
admins-whole-domain = Весь домен
admins-sites-change = Площадки администратора { $name }
admins-sites-hint = Администратор площадки видит и меняет только пользователей, очереди и агентов своих площадок. Чтобы дать доступ ко всему домену, не отмечайте ни одной.
admins-sites-save = Сохранить площадки
ok-admin-sites-saved = Площадки администратора сохранены: со следующей страницы он видит только то, что ему доступно.
